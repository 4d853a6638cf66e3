package distill

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
)

// resNetKind is the paper's adaptor (Habibian et al., CVPR 2024, Sec. 4.2,
// Fig. 5): r_in concatenated with r_out_{t+1}, a stride-2 convolution, the
// projection of the conditioning, two ResBlocks on the timestep embedding,
// a sub-pixel convolution back to r_out's size and a residual connection
// from r_out_{t+1}. No attention.
var resNetKind = Kind{Name: "resnet", DefaultWidth: 32, UsesPrev: true, Trainable: true, TakesNoPrev: true, TakesStepSize: true, TakesText: true,
	New: func(b *AdaptorBase, seed uint64) (Adaptor, error) {
		if b.RIn[1]%4 != 0 || b.RIn[2]%4 != 0 {
			return nil, fmt.Errorf("r_in of %d×%d cannot be halved twice", b.RIn[1], b.RIn[2])
		}
		a := &ResNet{convAdaptor: newConvAdaptor(b, 4)}
		w := b.Cfg.Width
		a.declareStepSize(seed)
		a.declareIn(seed)
		a.resblock(w, w).Declare(a.params, seed, "adaptor.resnets.0")
		a.resblock(w, w).Declare(a.params, seed, "adaptor.resnets.1")
		a.declareOut(seed)
		return a, nil
	}}

// ResNet is the paper's ResNet adaptor.
type ResNet struct{ convAdaptor }

// Graph implements Trainable.
func (a *ResNet) Graph(g *nn.Graph, in []*G.Node) (*G.Node, error) {
	c := a.inputs(g, in)
	w := a.Cfg.Width
	h := a.cond(g, c, g.Conv("adaptor.conv_in", c.x, nn.Same(3, 2, 1)))
	h = a.resblock(w, w).Apply(g, "adaptor.resnets.0", h, c.act)
	h = a.resblock(w, w).Apply(g, "adaptor.resnets.1", h, c.act)
	return a.head(g, c, h), nil
}

// Apply implements Adaptor.
func (a *ResNet) Apply(in Inputs) (*tensor.Dense, error) { return a.Run(a, in) }

// FLOPs implements Adaptor.
func (a *ResNet) FLOPs() int64 {
	var b unet.CostBuilder
	w, oh, ow := a.Cfg.Width, a.RIn[1]/2, a.RIn[2]/2
	a.costIn(&b)
	b.Conv("adaptor.conv_in", a.inChannels(), w, 3, oh, ow)
	a.costCond(&b, w, oh, ow)
	b.ResBlock("adaptor.resnets.0", a.resblock(w, w), oh, ow)
	b.ResBlock("adaptor.resnets.1", a.resblock(w, w), oh, ow)
	return a.costHead(&b, oh, ow)
}
