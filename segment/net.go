package segment

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/clockwork-go/clockwork/nn"
)

// Model is a segmentation U-Net: its configuration and parameters, under
// names of the form enc.L.conv1.weight, mid.bn2.running_mean,
// dec.L.up.weight, dec.L.gate.psi.bias, head.weight.
type Model struct {
	Config Config
	// Params are the trained parameters; Buffers the batch norms' running
	// statistics (running_mean, running_var), which training updates
	// without gradients. A model directory's weights file holds both.
	Params, Buffers *nn.Params
}

// New returns a model with PyTorch's default initialisation drawn from
// seed.
func New(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, Params: nn.NewParams(), Buffers: nn.NewParams()}
	m.declare(m.Params, seed)
	return m, nil
}

// channels returns the width of level l (Depth: the bottom).
func (c Config) channels(l int) int { return c.Width << l }

// declare adds the model's parameters to p.
func (m *Model) declare(p *nn.Params, seed uint64) {
	c := m.Config
	in := c.InChannels
	for l := 0; l <= c.Depth; l++ {
		prefix := fmt.Sprintf("enc.%d", l)
		if l == c.Depth {
			prefix = "mid"
		}
		m.declareBlock(p, seed, prefix, in, c.channels(l))
		in = c.channels(l)
	}
	for l := c.Depth - 1; l >= 0; l-- {
		ch := c.channels(l)
		prefix := fmt.Sprintf("dec.%d", l)
		nn.DeclareConvTranspose2x(p, seed, prefix+".up", 2*ch, ch)
		if c.Variant == Attention {
			inter := max(ch/2, 1)
			nn.DeclareConv(p, seed, prefix+".gate.x", ch, inter, 1)
			nn.DeclareConv(p, seed, prefix+".gate.g", ch, inter, 1)
			nn.DeclareConv(p, seed, prefix+".gate.psi", inter, 1, 1)
		}
		m.declareBlock(p, seed, prefix, 2*ch, ch)
	}
	nn.DeclareConv(p, seed, "head", c.channels(0), c.Classes, 1)
}

// declareBlock adds a level's two 3×3 convolutions (and their batch norms
// and the residual shortcut, when the configuration has them).
func (m *Model) declareBlock(p *nn.Params, seed uint64, prefix string, in, out int) {
	nn.DeclareConv(p, seed, prefix+".conv1", in, out, 3)
	nn.DeclareConv(p, seed, prefix+".conv2", out, out, 3)
	if m.Config.BatchNorm {
		nn.DeclareBatchNorm(p, m.Buffers, seed, prefix+".bn1", out)
		nn.DeclareBatchNorm(p, m.Buffers, seed, prefix+".bn2", out)
	}
	if m.Config.Variant == Residual && in != out {
		nn.DeclareConv(p, seed, prefix+".shortcut", in, out, 1)
	}
}

// All returns one store over the parameters and the buffers (shared, not
// copied): what a model directory's weights file holds.
func (m *Model) All() *nn.Params {
	all, err := nn.Join(m.Params, m.Buffers)
	if err != nil {
		panic(err) // the names are distinct by construction
	}
	return all
}

// Logits adds the network to g on x (N, InChannels, S, S) and returns the
// class scores (N, Classes, S', S'), S' = OutputSize(S). Batch norms use
// the batch's statistics and update their running ones when train is set,
// and the running statistics otherwise.
func (m *Model) Logits(g *nn.Graph, x *G.Node, train bool) *G.Node {
	c := m.Config
	pad := 1
	if c.Valid() {
		pad = 0
	}
	conv := func(prefix string, h *G.Node) *G.Node { return g.Conv(prefix, h, nn.Same(3, 1, pad)) }
	norm := func(prefix string, h *G.Node) *G.Node {
		if c.BatchNorm {
			return g.BatchNorm(prefix, h, train)
		}
		return h
	}
	block := func(prefix string, h *G.Node, in, out int) *G.Node {
		y := nn.ReLU(norm(prefix+".bn1", conv(prefix+".conv1", h)))
		y = norm(prefix+".bn2", conv(prefix+".conv2", y))
		if c.Variant != Residual {
			return nn.ReLU(y)
		}
		skip := h
		if in != out {
			skip = g.Conv(prefix+".shortcut", h, nn.Same(1, 1, 0))
		}
		return nn.ReLU(nn.Add(crop(skip, y), y))
	}
	skips := make([]*G.Node, c.Depth)
	h, in := x, c.InChannels
	for l := 0; l < c.Depth; l++ {
		h = block(fmt.Sprintf("enc.%d", l), h, in, c.channels(l))
		skips[l], in = h, c.channels(l)
		h = nn.MaxPool2x(h)
	}
	h = block("mid", h, in, c.channels(c.Depth))
	for l := c.Depth - 1; l >= 0; l-- {
		prefix := fmt.Sprintf("dec.%d", l)
		up := g.ConvTranspose2x(prefix+".up", h)
		skip := crop(skips[l], up)
		if c.Variant == Attention {
			q := nn.ReLU(nn.Add(g.Conv(prefix+".gate.x", skip, nn.Same(1, 1, 0)), g.Conv(prefix+".gate.g", up, nn.Same(1, 1, 0))))
			alpha := nn.Sigmoid(g.Conv(prefix+".gate.psi", q, nn.Same(1, 1, 0)))
			skip = nn.MulChannels(skip, alpha)
		}
		h = block(prefix, nn.ConcatChannels(skip, up), 2*c.channels(l), c.channels(l))
	}
	return g.Conv("head", h, nn.Same(1, 1, 0))
}

// crop centre-crops x to the spatial size of like (a no-op when they
// agree).
func crop(x, like *G.Node) *G.Node {
	xs, ls := x.Shape(), like.Shape()
	if xs[2] == ls[2] && xs[3] == ls[3] {
		return x
	}
	return nn.CenterCrop(x, ls[2], ls[3])
}
