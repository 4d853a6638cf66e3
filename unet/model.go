package unet

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
)

// Model is a UNet2DModel or a UNet2DConditionModel: its configuration and its parameters, named as in
// diffusers' state_dict. The graph-building methods (Graph, and the pieces
// it is made of) serve training; Forward, ShellIn, Core and ShellOut run
// inference on host tensors through graphs compiled once per input shape.
//
// A Model is not safe for concurrent use.
type Model struct {
	Config Config
	Params *nn.Params

	plan    *plan
	runners map[[4]int]*runner
	gen     uint64 // forward passes begun: a Shell remembers the one it belongs to
}

// New builds a model from a validated config, with PyTorch's default
// initialisation drawn from seed. A config whose weights cannot fit in the
// memory available is refused before anything is allocated.
func New(c Config, seed uint64) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p, err := newPlan(c)
	if err != nil {
		return nil, err
	}
	if err := c.CheckParamMemory(); err != nil {
		return nil, err
	}
	ps := nn.NewParams()
	p.declare(c, ps, seed)
	return &Model{Config: c, Params: ps, plan: p}, nil
}

// Taps names the feature maps a forward pass exposes, in the order they are
// computed: "conv_in", "down_blocks.<i>", "mid_block" (when there is one)
// and "up_blocks.<i>", each the output of that module as diffusers names it.
func (m *Model) Taps() []string {
	taps := []string{TapConvIn}
	for _, b := range m.plan.down {
		taps = append(taps, b.prefix)
	}
	if m.plan.mid != nil {
		taps = append(taps, TapMid)
	}
	for _, b := range m.plan.up {
		taps = append(taps, b.prefix)
	}
	return taps
}

// Names of taps that are not per block.
const (
	TapConvIn = "conv_in"   // the output of the first convolution
	TapMid    = "mid_block" // the output of the middle block
)

// Graph building. Each piece panics on inconsistent shapes (a programming
// error: configs are validated before); nn.Build turns that into an error.

// Embedding adds the conditioning embedding: time_embedding(tproj) plus
// class_embedding(onehot) for class-conditional models. tproj is the
// sinusoidal projection (N, block_out_channels[0]) from TimeProj and onehot
// the (N, num_class_embeds) one-hot labels, nil for unconditional models.
//
// For a "projection" class embedding onehot is instead the class_labels
// vector (N, projection_class_embeddings_input_dim), and the class
// embedding is class_embedding.linear_2(SiLU(class_embedding.linear_1(·))).
func (m *Model) Embedding(g *nn.Graph, tproj, onehot *G.Node) *G.Node {
	e := g.Linear("time_embedding.linear_1", tproj)
	e = g.Linear("time_embedding.linear_2", nn.SiLU(e))
	switch {
	case onehot == nil:
	case m.Config.ClassProjection() > 0:
		c := g.Linear("class_embedding.linear_1", onehot)
		e = nn.Add(e, g.Linear("class_embedding.linear_2", nn.SiLU(c)))
	default:
		e = nn.Add(e, g.Embedding("class_embedding", onehot))
	}
	return e
}

// ClassInputs returns the width of the class input of the embedding (the
// one-hot labels or the projected vector), 0 without one.
func (c Config) ClassInputs() int {
	if k := c.ClassProjection(); k > 0 {
		return k
	}
	return c.NumClasses()
}

// ConvIn adds the input convolution (after centering when
// center_input_sample is set).
func (m *Model) ConvIn(g *nn.Graph, x *G.Node) *G.Node {
	if m.Config.CenterInputSample {
		x = nn.Affine(x, 2, -1)
	}
	return g.Conv("conv_in", x, nn.Same(3, 1, 1))
}

// Down adds down block i to h and returns its output and the skip tensors
// it contributes, in order. embAct is SiLU of the embedding; text is what
// the cross-attention blocks attend to (nil for a UNet2DModel).
func (m *Model) Down(g *nn.Graph, i int, h, embAct *G.Node, text *TextNodes) (*G.Node, []*G.Node) {
	b := m.plan.down[i]
	var skips []*G.Node
	for j, r := range b.resnets {
		h = r.Apply(g, fmt.Sprintf("%s.resnets.%d", b.prefix, j), h, embAct)
		if len(b.attns) > 0 {
			h = b.attns[j].apply(g, fmt.Sprintf("%s.attentions.%d", b.prefix, j), h, text)
		}
		skips = append(skips, h)
	}
	if b.resample {
		geom := nn.Same(3, 2, 1)
		if m.Config.DownsamplePadding == 0 {
			// Downsample2D pads (0,1,0,1) before an unpadded stride-2 conv.
			geom = nn.ConvGeom{KH: 3, KW: 3, Stride: 2, PadB: 1, PadR: 1}
		}
		h = g.Conv(b.prefix+".downsamplers.0.conv", h, geom)
		skips = append(skips, h)
	}
	return h, skips
}

// Mid adds the mid block (which must exist).
func (m *Model) Mid(g *nn.Graph, h, embAct *G.Node, text *TextNodes) *G.Node {
	mp := m.plan.mid
	h = mp.resnets[0].Apply(g, "mid_block.resnets.0", h, embAct)
	if mp.attn != nil {
		h = mp.attn.apply(g, "mid_block.attentions.0", h, text)
	}
	return mp.resnets[1].Apply(g, "mid_block.resnets.1", h, embAct)
}

// UpSkips returns how many skip tensors up block i consumes.
func (m *Model) UpSkips(i int) int { return len(m.plan.up[i].resnets) }

// Up adds up block i; skips are the UpSkips(i) skip tensors it consumes, in
// the order they were produced (it pops them from the end).
func (m *Model) Up(g *nn.Graph, i int, h *G.Node, skips []*G.Node, embAct *G.Node, text *TextNodes) *G.Node {
	b := m.plan.up[i]
	for j, r := range b.resnets {
		h = r.ApplyParts(g, fmt.Sprintf("%s.resnets.%d", b.prefix, j), []*G.Node{h, skips[len(skips)-1-j]}, embAct)
		if len(b.attns) > 0 {
			h = b.attns[j].apply(g, fmt.Sprintf("%s.attentions.%d", b.prefix, j), h, text)
		}
	}
	if b.resample {
		h = g.Conv(b.prefix+".upsamplers.0.conv", nn.Upsample2x(h), nn.Same(3, 1, 1))
	}
	return h
}

// Head adds the output head: GroupNorm, SiLU and conv_out.
func (m *Model) Head(g *nn.Graph, h *G.Node) *G.Node {
	if g.Inference() {
		// The normalised features are read plane by plane, never written.
		norm := nn.NormSpec{Groups: m.Config.groupsOut(), Eps: m.Config.NormEps, SiLU: true}
		return nn.NormConv([]*G.Node{h}, g.Param("conv_norm_out.weight"), g.Param("conv_norm_out.bias"), norm,
			g.Param("conv_out.weight"), g.Param("conv_out.bias"), nn.Same(3, 1, 1), nil, nil, 1)
	}
	h = g.GroupNorm("conv_norm_out", h, m.Config.groupsOut(), m.Config.NormEps, true)
	return g.Conv("conv_out", h, nn.Same(3, 1, 1))
}

// Graph adds the whole network to g and returns its output for the sample x
// (N,in_channels,H,W), the timestep projection tproj, the one-hot labels
// (nil without class embeddings) and the text (nil for a UNet2DModel).
func (m *Model) Graph(g *nn.Graph, x, tproj, onehot *G.Node, text *TextNodes) *G.Node {
	embAct := nn.SiLU(m.Embedding(g, tproj, onehot))
	h := m.ConvIn(g, x)
	skips := []*G.Node{h}
	for i := range m.plan.down {
		var s []*G.Node
		h, s = m.Down(g, i, h, embAct, text)
		skips = append(skips, s...)
	}
	if m.plan.mid != nil {
		h = m.Mid(g, h, embAct, text)
	}
	for i := range m.plan.up {
		k := m.UpSkips(i)
		h = m.Up(g, i, h, skips[len(skips)-k:], embAct, text)
		skips = skips[:len(skips)-k]
	}
	return m.Head(g, h)
}

// TimeProj returns the sinusoidal timestep projection (N, C0) that the
// Embedding takes, as diffusers' Timesteps module computes it.
func (m *Model) TimeProj(t []float64) *tensor.Dense {
	c0 := m.Config.BlockOutChannels[0]
	data := nn.TimestepEmbedding(t, c0, m.Config.FlipSinToCos, m.Config.FreqShift, 10000)
	return tensor.New(tensor.WithShape(len(t), c0), tensor.WithBacking(data))
}

// OneHot returns the one-hot class matrix for labels, checking their range.
func (m *Model) OneHot(labels []int64) (*tensor.Dense, error) {
	k := m.Config.NumClasses()
	for i, l := range labels {
		if l < 0 || int(l) >= k {
			return nil, fmt.Errorf("class label %d (sample %d) is outside [0,%d)", l, i, k)
		}
	}
	return tensor.New(tensor.WithShape(len(labels), k), tensor.WithBacking(nn.OneHot(labels, k))), nil
}

// WithParams returns a model with the same configuration over another
// parameter store of the same layout (an EMA copy of the weights, say).
func (m *Model) WithParams(p *nn.Params) (*Model, error) {
	if err := m.Params.SameLayout(p); err != nil {
		return nil, err
	}
	return &Model{Config: m.Config, Params: p, plan: m.plan}, nil
}
