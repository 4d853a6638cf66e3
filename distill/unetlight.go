package distill

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
)

// uNetLightKind is a small U-Net adaptor, the paper's light UNet variant
// (Habibian et al., CVPR 2024, Tab. 4): a convolution at r_in's size, one
// level down with a ResBlock, back up, a ResBlock on the skip
// concatenation, and the head of the ResNet adaptor at r_in's size.
var uNetLightKind = Kind{Name: "unet-light", DefaultWidth: 8, UsesPrev: true, Trainable: true, TakesNoPrev: true, TakesStepSize: true, TakesText: true,
	New: func(b *AdaptorBase, seed uint64) (Adaptor, error) {
		if b.RIn[1]%2 != 0 || b.RIn[2]%2 != 0 {
			return nil, fmt.Errorf("r_in of %d×%d cannot be halved", b.RIn[1], b.RIn[2])
		}
		a := &UNetLight{convAdaptor: newConvAdaptor(b, 2)}
		w := b.Cfg.Width
		a.declareStepSize(seed)
		a.declareIn(seed)
		nn.DeclareConv(a.params, seed, "adaptor.down", w, 2*w, 3)
		a.resblock(2*w, 2*w).Declare(a.params, seed, "adaptor.mid")
		nn.DeclareConv(a.params, seed, "adaptor.up", 2*w, w, 3)
		a.resblock(2*w, w).Declare(a.params, seed, "adaptor.dec")
		a.declareOut(seed)
		return a, nil
	}}

// UNetLight is the small U-Net adaptor.
type UNetLight struct{ convAdaptor }

// Graph implements Trainable.
func (a *UNetLight) Graph(g *nn.Graph, in []*G.Node) (*G.Node, error) {
	c := a.inputs(g, in)
	w := a.Cfg.Width
	e := a.cond(g, c, g.Conv("adaptor.conv_in", c.x, nn.Same(3, 1, 1)))
	d := g.Conv("adaptor.down", e, nn.Same(3, 2, 1))
	d = a.resblock(2*w, 2*w).Apply(g, "adaptor.mid", d, c.act)
	u := g.Conv("adaptor.up", nn.Upsample2x(d), nn.Same(3, 1, 1))
	h := a.resblock(2*w, w).Apply(g, "adaptor.dec", nn.ConcatChannels(u, e), c.act)
	return a.head(g, c, h), nil
}

// Apply implements Adaptor.
func (a *UNetLight) Apply(in Inputs) (*tensor.Dense, error) { return a.Run(a, in) }

// FLOPs implements Adaptor.
func (a *UNetLight) FLOPs() int64 {
	var b unet.CostBuilder
	w, h, ww := a.Cfg.Width, a.RIn[1], a.RIn[2]
	a.costIn(&b)
	b.Conv("adaptor.conv_in", a.inChannels(), w, 3, h, ww)
	a.costCond(&b, w, h, ww)
	b.Conv("adaptor.down", w, 2*w, 3, h/2, ww/2)
	b.ResBlock("adaptor.mid", a.resblock(2*w, 2*w), h/2, ww/2)
	b.Conv("adaptor.up", 2*w, w, 3, h, ww)
	b.ResBlock("adaptor.dec", a.resblock(2*w, w), h, ww)
	return a.costHead(&b, h, ww)
}
