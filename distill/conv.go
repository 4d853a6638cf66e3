package distill

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
)

// convAdaptor holds what the ResNet and UNet-light adaptors share: their
// inputs (r_in concatenated with the pooled r_out_{t+1}, the timestep
// embedding, optionally the step size), the linear projection of the
// class embedding added after the first convolution (the paper's
// projection of the pooled conditioning embedding), the output head (a
// GroupNorm and a 1×1 convolution to r×r sub-pixels per channel) and the
// residual connection from r_out_{t+1}, which starts at zero so that
// distillation starts from the identity adaptor.
type convAdaptor struct {
	*AdaptorBase
	GraphRunner
	params *nn.Params
	groups int
	// ratio is the sub-pixel factor of the output head.
	ratio int
}

func newConvAdaptor(b *AdaptorBase, ratio int) convAdaptor {
	return convAdaptor{AdaptorBase: b, params: nn.NewParams(), groups: groupsFor(b.Cfg.Width), ratio: ratio}
}

// groupsFor picks GroupNorm groups for a width: 8 when it divides it, else
// the largest divisor up to 8.
func groupsFor(w int) int {
	for g := 8; g > 1; g-- {
		if w%g == 0 {
			return g
		}
	}
	return 1
}

// Params implements Trainable.
func (a *convAdaptor) Params() *nn.Params { return a.params }

func (a *convAdaptor) resblock(in, out int) nn.ResBlock {
	return nn.ResBlock{In: in, Out: out, Temb: a.Temb, Groups: a.groups, Eps: 1e-5, OutScale: 1}
}

// inChannels is the first convolution's input: r_in, and r_out_{t+1}
// pooled to r_in's size.
func (a *convAdaptor) inChannels() int {
	if a.NeedsPrev() {
		return a.RIn[0] + a.ROut[0]
	}
	return a.RIn[0]
}

// declareStepSize declares the step-size embedding, first of the
// parameters.
func (a *convAdaptor) declareStepSize(seed uint64) {
	if a.Cfg.StepSize {
		c0 := a.Teacher.Config.BlockOutChannels[0]
		nn.DeclareLinear(a.params, seed, "adaptor.step_embedding.linear_1", c0, a.Temb)
		nn.DeclareLinear(a.params, seed, "adaptor.step_embedding.linear_2", a.Temb, a.Temb)
	}
}

// declareIn declares the first convolution (stride as the graph uses it)
// and the conditioning projection.
func (a *convAdaptor) declareIn(seed uint64) {
	nn.DeclareConv(a.params, seed, "adaptor.conv_in", a.inChannels(), a.Cfg.Width, 3)
	if a.Classes > 0 {
		nn.DeclareLinear(a.params, seed, "adaptor.cond_proj", a.Temb, a.Cfg.Width)
	}
	if a.TextWidth > 0 {
		nn.DeclareLinear(a.params, seed, "adaptor.text_proj", a.TextWidth, a.Cfg.Width)
	}
}

// declareOut declares the output head, zeroed when the adaptor has the
// residual connection.
func (a *convAdaptor) declareOut(seed uint64) {
	w, r := a.Cfg.Width, a.ratio
	nn.DeclareGroupNorm(a.params, seed, "adaptor.norm_out", w)
	nn.DeclareConv(a.params, seed, "adaptor.conv_out", w, a.ROut[0]*r*r, 1)
	if a.NeedsPrev() {
		clear(a.params.Data("adaptor.conv_out.weight"))
		clear(a.params.Data("adaptor.conv_out.bias"))
	}
}

// Shapes implements Trainable: r_in, then r_out_{t+1} (unless NoPrev), the
// embedding, the one-hot class (class-conditional teachers), the step
// size's sinusoidal projection (with StepSize).
func (a *convAdaptor) Shapes(n int) [][]int {
	out := [][]int{{n, a.RIn[0], a.RIn[1], a.RIn[2]}}
	if a.NeedsPrev() {
		out = append(out, []int{n, a.ROut[0], a.ROut[1], a.ROut[2]})
	}
	out = append(out, []int{n, a.Temb})
	if a.Classes > 0 {
		out = append(out, []int{n, a.Classes})
	}
	if a.TextWidth > 0 {
		out = append(out, []int{n, a.TextWidth})
	}
	if a.Cfg.StepSize {
		out = append(out, []int{n, a.Teacher.Config.BlockOutChannels[0]})
	}
	return out
}

// Tensors implements Trainable.
func (a *convAdaptor) Tensors(in Inputs) ([]*tensor.Dense, error) {
	n := in.RIn.Shape()[0]
	out := []*tensor.Dense{in.RIn}
	if a.NeedsPrev() {
		if err := checkPrev(a.AdaptorBase, in); err != nil {
			return nil, err
		}
		out = append(out, in.ROutPrev)
	}
	out = append(out, in.Emb)
	if a.Classes > 0 {
		oh, err := a.Teacher.OneHot(in.Cond.Labels)
		if err != nil {
			return nil, err
		}
		if len(in.Cond.Labels) != n {
			return nil, fmt.Errorf("adaptor: %d labels for %d rows", len(in.Cond.Labels), n)
		}
		out = append(out, oh)
	}
	if a.TextWidth > 0 {
		p := in.Cond.Pooled
		if p == nil || !p.Shape().Eq(tensor.Shape{n, a.TextWidth}) {
			return nil, fmt.Errorf("adaptor: pooled text of shape %v for %d rows of width %d (a text-conditioned adaptor needs the prompts' pooled embeddings)", shapeOrNil(p), n, a.TextWidth)
		}
		out = append(out, p)
	}
	if a.Cfg.StepSize {
		dts := make([]float64, n)
		for i := range dts {
			dts[i] = in.StepSize
			if in.RowStepSizes != nil {
				dts[i] = in.RowStepSizes[i]
			}
			if !(dts[i] > 0) {
				return nil, fmt.Errorf("%s adaptor at step %d: step size %g (it needs a previous step)", a.Cfg.Kind, in.Step+1, dts[i])
			}
		}
		out = append(out, a.Teacher.TimeProj(dts))
	}
	return out, nil
}

// shapeOrNil returns t's shape, nil for no tensor.
func shapeOrNil(t *tensor.Dense) tensor.Shape {
	if t == nil {
		return nil
	}
	return t.Shape()
}

// convInputs are a graph's input nodes by role.
type convInputs struct {
	x, prev, act, onehot, pooled *G.Node
}

// inputs unpacks the graph's inputs: the first convolution's input x (r_in
// with the pooled r_out_{t+1}), r_out_{t+1}, SiLU of the embedding (with
// the step-size embedding added) and the one-hot class.
func (a *convAdaptor) inputs(g *nn.Graph, in []*G.Node) convInputs {
	var c convInputs
	c.x = in[0]
	k := 1
	if a.NeedsPrev() {
		c.prev, k = in[k], k+1
		c.x = nn.ConcatChannels(in[0], nn.AvgPool2x(c.prev))
	}
	emb := in[k]
	k++
	if a.Classes > 0 {
		c.onehot, k = in[k], k+1
	}
	if a.TextWidth > 0 {
		c.pooled, k = in[k], k+1
	}
	if a.Cfg.StepSize {
		e := g.Linear("adaptor.step_embedding.linear_1", in[k])
		emb = nn.Add(emb, g.Linear("adaptor.step_embedding.linear_2", nn.SiLU(e)))
	}
	c.act = nn.SiLU(emb)
	return c
}

// cond adds the projections of the teacher's class embedding and of the
// pooled text to h.
func (a *convAdaptor) cond(g *nn.Graph, c convInputs, h *G.Node) *G.Node {
	if c.onehot != nil {
		e := g.Embedding("class_embedding", c.onehot)
		h = nn.AddChannel(h, g.Linear("adaptor.cond_proj", e))
	}
	if c.pooled != nil {
		h = nn.AddChannel(h, g.Linear("adaptor.text_proj", c.pooled))
	}
	return h
}

// head maps h to r_out: GroupNorm, SiLU, the 1×1 convolution, the
// sub-pixel shuffle, and r_out_{t+1} added (in one pass) when the adaptor
// reads it; in a graph for inference, with a 4× shuffle onto r_out_{t+1},
// all of it sample by sample in one op (nn.NormConvToSpaceAdd, the same
// values).
func (a *convAdaptor) head(g *nn.Graph, c convInputs, h *G.Node) *G.Node {
	if g.Inference() && c.prev != nil && a.ratio == 4 {
		norm := nn.NormSpec{Groups: a.groups, Eps: 1e-5, SiLU: true}
		return nn.NormConvToSpaceAdd(h, g.Param("adaptor.norm_out.weight"), g.Param("adaptor.norm_out.bias"), norm,
			g.Param("adaptor.conv_out.weight"), g.Param("adaptor.conv_out.bias"), c.prev)
	}
	h = g.GroupNorm("adaptor.norm_out", h, a.groups, 1e-5, true)
	h = g.Conv("adaptor.conv_out", h, nn.Same(1, 1, 0))
	if c.prev != nil {
		return nn.AddDepthToSpace(c.prev, h, a.ratio)
	}
	return nn.DepthToSpace(h, a.ratio)
}

// costIn adds the cost of the inputs' preparation; costCond that of the
// conditioning projection at c channels of hh×ww; costHead that of the
// head working at oh×ow.
func (a *convAdaptor) costIn(b *unet.CostBuilder) {
	if a.NeedsPrev() {
		b.Sum("adaptor.pool", a.ROut[0]*a.ROut[1]*a.ROut[2])
	}
	if a.Cfg.StepSize {
		c0 := a.Teacher.Config.BlockOutChannels[0]
		b.Linear("adaptor.step_embedding.linear_1", 1, c0, a.Temb)
		b.Act("adaptor.step_embedding.act", a.Temb)
		b.Linear("adaptor.step_embedding.linear_2", 1, a.Temb, a.Temb)
		b.Sum("adaptor.step_embedding.add", a.Temb)
	}
	b.Act("adaptor.emb_act", a.Temb)
}

func (a *convAdaptor) costCond(b *unet.CostBuilder, c, hh, ww int) {
	if a.Classes > 0 {
		b.Linear("adaptor.cond_proj", 1, a.Temb, c)
		b.Sum("adaptor.cond_add", c*hh*ww)
	}
	if a.TextWidth > 0 {
		b.Linear("adaptor.text_proj", 1, a.TextWidth, c)
		b.Sum("adaptor.text_add", c*hh*ww)
	}
}

func (a *convAdaptor) costHead(b *unet.CostBuilder, oh, ow int) int64 {
	w, r := a.Cfg.Width, a.ratio
	b.Norm("adaptor.norm_out", w*oh*ow, true)
	b.Conv("adaptor.conv_out", w, a.ROut[0]*r*r, 1, oh, ow)
	if a.NeedsPrev() {
		b.Sum("adaptor.residual", a.ROut[0]*a.ROut[1]*a.ROut[2])
	}
	_, f := b.Cost.Total()
	return f
}
