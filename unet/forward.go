package unet

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
)

// Hook sees the feature map at a tap during a forward pass. It may read x
// (which is only valid during the call; copy what you keep) and may return
// a tensor of the same shape to replace it, or nil to leave it. The
// replacement is used wherever that feature flows: into the next block and
// into the skip connections that carry it.
type Hook func(tap string, x *tensor.Dense) (*tensor.Dense, error)

// stage is one compiled piece of the network (the embedding, conv_in, one
// block or the head).
type stage = nn.Func

// runner holds the stages compiled for one input shape (N, H, W) and text
// length L.
type runner struct {
	embed, convIn, mid, head *stage
	down, up                 []*stage
}

// compileStage builds a graph with inputs of the given shapes through f and
// compiles it.
func (m *Model) compileStage(shapes [][]int, f func(g *nn.Graph, in []*G.Node) []*G.Node) (*stage, error) {
	return nn.NewFunc(nn.FuncDef{Params: m.Params, Inputs: shapes, Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
		return f(g, in), nil
	}})
}

func shapeOf(s *stage, i int) []int { return []int(s.OutputShape(i)) }

// crossStage reports whether a block attends to text, and so takes the
// text's tokens and bias as its last two inputs.
func crossStage(attns ...attnBlock) bool {
	for _, a := range attns {
		if _, ok := a.(crossAttn); ok {
			return true
		}
	}
	return false
}

// textIn returns the text nodes of a stage whose last two inputs are the
// tokens and the bias, or nil.
func textIn(cross bool, in []*G.Node) *TextNodes {
	if !cross {
		return nil
	}
	return &TextNodes{Tokens: in[len(in)-2], Bias: in[len(in)-1]}
}

func (m *Model) runnerFor(n, h, w, tokens int) (*runner, error) {
	key := [4]int{n, h, w, tokens}
	if r, ok := m.runners[key]; ok {
		return r, nil
	}
	c := m.Config
	r := &runner{}
	var err error
	embShape := []int{n, c.TimeEmbedDim()}
	embIn := [][]int{{n, c.BlockOutChannels[0]}}
	if k := c.ClassInputs(); k > 0 {
		embIn = append(embIn, []int{n, k})
	}
	if r.embed, err = m.compileStage(embIn, func(g *nn.Graph, in []*G.Node) []*G.Node {
		var onehot *G.Node
		if len(in) == 2 {
			onehot = in[1]
		}
		return []*G.Node{m.Embedding(g, in[0], onehot)}
	}); err != nil {
		return nil, err
	}
	if r.convIn, err = m.compileStage([][]int{{n, c.InChannels, h, w}}, func(g *nn.Graph, in []*G.Node) []*G.Node {
		return []*G.Node{m.ConvIn(g, in[0])}
	}); err != nil {
		return nil, err
	}
	textShapes := [][]int{{n * tokens, c.CrossAttentionDim}, {n, tokens}}
	withText := func(cross bool, shapes ...[]int) [][]int {
		if cross {
			return append(shapes, textShapes...)
		}
		return shapes
	}
	hShape := shapeOf(r.convIn, 0)
	skipShapes := [][]int{hShape}
	for i, b := range m.plan.down {
		cross := crossStage(b.attns...)
		st, err := m.compileStage(withText(cross, hShape, embShape), func(g *nn.Graph, in []*G.Node) []*G.Node {
			h, skips := m.Down(g, i, in[0], nn.SiLU(in[1]), textIn(cross, in))
			return append([]*G.Node{h}, skips...)
		})
		if err != nil {
			return nil, err
		}
		r.down = append(r.down, st)
		hShape = shapeOf(st, 0)
		for k := 1; k < st.NumOutputs(); k++ {
			skipShapes = append(skipShapes, shapeOf(st, k))
		}
	}
	if mp := m.plan.mid; mp != nil {
		cross := mp.attn != nil && crossStage(mp.attn)
		if r.mid, err = m.compileStage(withText(cross, hShape, embShape), func(g *nn.Graph, in []*G.Node) []*G.Node {
			return []*G.Node{m.Mid(g, in[0], nn.SiLU(in[1]), textIn(cross, in))}
		}); err != nil {
			return nil, err
		}
	}
	for i, b := range m.plan.up {
		k := m.UpSkips(i)
		cross := crossStage(b.attns...)
		shapes := withText(cross, append([][]int{hShape, embShape}, skipShapes[len(skipShapes)-k:]...)...)
		skipShapes = skipShapes[:len(skipShapes)-k]
		st, err := m.compileStage(shapes, func(g *nn.Graph, in []*G.Node) []*G.Node {
			return []*G.Node{m.Up(g, i, in[0], in[2:2+k], nn.SiLU(in[1]), textIn(cross, in))}
		})
		if err != nil {
			return nil, err
		}
		r.up = append(r.up, st)
		hShape = shapeOf(st, 0)
	}
	if r.head, err = m.compileStage([][]int{hShape}, func(g *nn.Graph, in []*G.Node) []*G.Node {
		return []*G.Node{m.Head(g, in[0])}
	}); err != nil {
		return nil, err
	}
	if m.runners == nil {
		m.runners = map[[4]int]*runner{}
	}
	m.runners[key] = r
	return r, nil
}

// state is a forward pass in progress.
type state struct {
	m     *Model
	r     *runner
	emb   *tensor.Dense
	text  []*tensor.Dense // the tokens (N·L, D) and bias (N, L), or nil
	h     *tensor.Dense
	skips []*tensor.Dense
	hook  Hook
	// raw is the last up block's output before its tap.
	raw *tensor.Dense
}

// with appends the text to a stage's inputs when the stage attends to it.
func (s *state) with(cross bool, in ...*tensor.Dense) []*tensor.Dense {
	if cross {
		return append(in, s.text...)
	}
	return in
}

// tap passes the current feature map through the hook.
func (s *state) tap(name string) error {
	if s.hook == nil {
		return nil
	}
	y, err := s.hook(name, s.h)
	if err != nil {
		return fmt.Errorf("hook at %s: %w", name, err)
	}
	if y == nil || y == s.h {
		return nil
	}
	if !y.Shape().Eq(s.h.Shape()) {
		return fmt.Errorf("hook at %s returned shape %v, want %v", name, y.Shape(), s.h.Shape())
	}
	if y.Dtype() != tensor.Float32 {
		return fmt.Errorf("hook at %s returned dtype %v, want float32", name, y.Dtype())
	}
	// The replaced feature is also the last skip tensor pushed.
	if n := len(s.skips); n > 0 && s.skips[n-1] == s.h {
		s.skips[n-1] = y
	}
	s.h = y
	return nil
}

// begin checks the inputs and runs the embedding and conv_in.
func (m *Model) begin(x *tensor.Dense, t []float64, cond Cond, hook Hook) (*state, error) {
	labels := cond.Labels
	c := m.Config
	s := x.Shape()
	if len(s) != 4 || s[1] != c.InChannels {
		return nil, fmt.Errorf("sample has shape %v, want (N,%d,H,W)", s, c.InChannels)
	}
	if x.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("sample has dtype %v, want float32", x.Dtype())
	}
	n, h, w := s[0], s[2], s[3]
	if n == 0 {
		return nil, fmt.Errorf("sample batch is empty")
	}
	if err := c.CheckSize(h, w); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	for _, v := range x.Data().([]float32) {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("sample holds NaN or Inf")
		}
	}
	switch len(t) {
	case n:
	case 1:
		tt := make([]float64, n)
		for i := range tt {
			tt[i] = t[0]
		}
		t = tt
	default:
		return nil, fmt.Errorf("%d timesteps for a batch of %d", len(t), n)
	}
	for _, v := range t {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("timestep %v is not finite", v)
		}
	}
	embIn := []*tensor.Dense{m.TimeProj(t)}
	if k := c.ClassProjection(); k > 0 || cond.ClassVector != nil {
		switch {
		case k == 0:
			return nil, fmt.Errorf("model has no projection class embedding (class_embed_type is not %q): a class vector given", ClassEmbedProjection)
		case len(cond.ClassVector) != n*k:
			return nil, fmt.Errorf("%d class vector values for a batch of %d of projection_class_embeddings_input_dim %d", len(cond.ClassVector), n, k)
		}
		for i, v := range cond.ClassVector {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("class vector value %d is %v", i, v)
			}
		}
		embIn = append(embIn, tensor.New(tensor.WithShape(n, k), tensor.WithBacking(cond.ClassVector)))
	}
	switch {
	case c.NumClasses() > 0 && labels == nil:
		return nil, fmt.Errorf("model is class-conditional (num_class_embeds %d): class labels are required", c.NumClasses())
	case c.NumClasses() == 0 && labels != nil:
		return nil, fmt.Errorf("model has no class embeddings (num_class_embeds is null): class labels given")
	case labels != nil && len(labels) != n:
		return nil, fmt.Errorf("%d class labels for a batch of %d", len(labels), n)
	case labels != nil:
		oh, err := m.OneHot(labels)
		if err != nil {
			return nil, err
		}
		embIn = append(embIn, oh)
	}
	text, tokens, err := m.textInputs(cond, n)
	if err != nil {
		return nil, err
	}
	r, err := m.runnerFor(n, h, w, tokens)
	if err != nil {
		return nil, err
	}
	m.gen++ // every Shell made before is stale from here on
	out, err := r.embed.Call(embIn...)
	if err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	st := &state{m: m, r: r, emb: out[0], text: text, hook: hook}
	if out, err = r.convIn.Call(x); err != nil {
		return nil, fmt.Errorf("conv_in: %w", err)
	}
	st.h = out[0]
	st.skips = []*tensor.Dense{st.h}
	return st, st.tap(TapConvIn)
}

func (s *state) down(i int) error {
	out, err := s.r.down[i].Call(s.with(crossStage(s.m.plan.down[i].attns...), s.h, s.emb)...)
	if err != nil {
		return fmt.Errorf("%s: %w", s.m.plan.down[i].prefix, err)
	}
	s.h = out[0]
	s.skips = append(s.skips, out[1:]...)
	return s.tap(s.m.plan.down[i].prefix)
}

func (s *state) mid() error {
	if s.r.mid == nil {
		return nil
	}
	out, err := s.r.mid.Call(s.with(s.m.plan.mid.attn != nil && crossStage(s.m.plan.mid.attn), s.h, s.emb)...)
	if err != nil {
		return fmt.Errorf("mid_block: %w", err)
	}
	s.h = out[0]
	return s.tap(TapMid)
}

func (s *state) up(i int) error {
	k := s.m.UpSkips(i)
	in := append([]*tensor.Dense{s.h, s.emb}, s.skips[len(s.skips)-k:]...)
	s.skips = s.skips[:len(s.skips)-k]
	out, err := s.r.up[i].Call(s.with(crossStage(s.m.plan.up[i].attns...), in...)...)
	if err != nil {
		return fmt.Errorf("%s: %w", s.m.plan.up[i].prefix, err)
	}
	s.h, s.raw = out[0], out[0]
	return s.tap(s.m.plan.up[i].prefix)
}

func (s *state) head() (*tensor.Dense, error) {
	out, err := s.r.head.Call(s.h)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	return out[0].Clone().(*tensor.Dense), nil
}

// Forward runs the model on a batch: sample x (N,in_channels,H,W), one
// timestep per sample (or one for all), and what it is conditioned on:
// class labels for models with class embeddings, the text for a
// UNet2DConditionModel (see Cond). hook, when not nil, sees every tap (see
// Taps) and may replace it. The result (N,out_channels,H,W) is a new
// tensor.
func (m *Model) Forward(x *tensor.Dense, t []float64, cond Cond, hook Hook) (*tensor.Dense, error) {
	s, err := m.begin(x, t, cond, hook)
	if err != nil {
		return nil, err
	}
	for i := range m.plan.down {
		if err := s.down(i); err != nil {
			return nil, err
		}
	}
	if err := s.mid(); err != nil {
		return nil, err
	}
	for i := range m.plan.up {
		if err := s.up(i); err != nil {
			return nil, err
		}
	}
	return s.head()
}

// Shell is the state of the high-resolution shell after its input half at
// some depth (see Split): the core's input RIn, the skip tensors the
// shell's output half will consume, and the conditioning embedding Emb.
// Following Clockwork Diffusion (Habibian et al., CVPR 2024, Sec. 4.2), the
// low-resolution core in between can be run with Core or replaced by any
// function from RIn to a tensor of ROutShape (an adaptor).
//
// Emb is the embedding before its SiLU: time_embedding(t) plus the class
// embedding, as diffusers' UNet2DModel computes emb. Every ResBlock takes
// SiLU(Emb) (nn.ResBlock.Apply's tembAct), so an adaptor that conditions
// ResBlocks on it applies SiLU first, as the U-Net does.
//
// The tensors of a Shell are owned by the model and stay valid until its
// next ShellIn or Forward: a Shell used after that is an error (its tensors
// would hold another pass's values). Copy what must outlive it.
type Shell struct {
	s     *state
	split Split
	gen   uint64
	RIn   *tensor.Dense
	Emb   *tensor.Dense
	skips []*tensor.Dense
	rOut  tensor.Shape
}

// ROutShape returns the shape of the core's output r_out.
func (sh *Shell) ROutShape() tensor.Shape { return sh.rOut.Clone() }

// Split returns the cut the shell was made at.
func (sh *Shell) Split() Split { return sh.split }

// valid reports, as an error, a shell the model has run past.
func (sh *Shell) valid() error {
	if sh.gen != sh.s.m.gen {
		return fmt.Errorf("shell is stale: the model ran another forward pass or ShellIn since it was made")
	}
	return nil
}

// ShellIn runs the input half of the shell at depth 1 (conv_in and
// down_blocks[0]; their taps pass through hook), the paper's default cut.
// It is SplitAt(1) followed by Split.ShellIn.
func (m *Model) ShellIn(x *tensor.Dense, t []float64, cond Cond, hook Hook) (*Shell, error) {
	sp, err := m.SplitAt(1)
	if err != nil {
		return nil, err
	}
	return sp.ShellIn(x, t, cond, hook)
}

// ShellIn runs conv_in and down_blocks[:Depth] (their taps pass through
// hook) and returns the shell with r_in, the output of down_blocks[Depth−1].
func (sp Split) ShellIn(x *tensor.Dense, t []float64, cond Cond, hook Hook) (*Shell, error) {
	m := sp.m
	s, err := m.begin(x, t, cond, hook)
	if err != nil {
		return nil, err
	}
	for i := 0; i < sp.Depth; i++ {
		if err := s.down(i); err != nil {
			return nil, err
		}
	}
	n := len(m.plan.up)
	rOut := s.r.up[n-1-sp.Depth].OutputShape(0)
	skips := s.skips[:len(s.skips)-1] // the last skip is r_in itself, consumed by the core
	return &Shell{s: s, split: sp, gen: m.gen, RIn: s.h, Emb: s.emb, skips: skips, rOut: rOut}, nil
}

// Core runs the low-resolution core on sh.RIn (the blocks between the
// shell's halves, with their taps through hook) and returns r_out, the input
// of the shell's first up block. The result is a new tensor.
func (m *Model) Core(sh *Shell, hook Hook) (*tensor.Dense, error) {
	return m.CoreInto(sh, nil, hook)
}

// CoreInto is Core writing r_out into dst (a float32 tensor of
// sh.ROutShape(), or nil for a new one) and returning it.
func (m *Model) CoreInto(sh *Shell, dst *tensor.Dense, hook Hook) (*tensor.Dense, error) {
	if err := checkROut(sh, dst); err != nil {
		return nil, err
	}
	s, err := m.core(sh, hook)
	if err != nil {
		return nil, err
	}
	return copyInto(dst, s.h), nil
}

// CoreTake is Core returning r_out without a copy: the buffer the core's
// last block wrote it into becomes the caller's, and the model takes spare
// (a float32 tensor of sh.ROutShape() the caller will not use again, or
// nil for a new one) as that block's buffer for its next run. A caller
// that keeps r_out from step to step, as Clockwork does, hands back the
// r_out it kept before: no copy and no allocation per step (26 MB for the
// MNIST U-Net at a batch of 100). Where the block's output cannot be
// taken (a hook replaced it), r_out is copied into spare.
func (m *Model) CoreTake(sh *Shell, spare *tensor.Dense, hook Hook) (*tensor.Dense, error) {
	if err := checkROut(sh, spare); err != nil {
		return nil, err
	}
	s, err := m.core(sh, hook)
	if err != nil {
		return nil, err
	}
	if last := len(m.plan.up) - 1 - sh.split.Depth; last >= 0 && s.h == s.raw {
		if t, err := s.r.up[last].Exchange(0, spare); err == nil {
			return t, nil
		}
	}
	return copyInto(spare, s.h), nil
}

// copyInto copies h into dst and returns it; a new tensor when dst is nil.
func copyInto(dst, h *tensor.Dense) *tensor.Dense {
	if dst == nil {
		return h.Clone().(*tensor.Dense)
	}
	copy(dst.Float32s(), h.Float32s())
	return dst
}

// checkROut checks a buffer for r_out (nil passes) and the shell.
func checkROut(sh *Shell, dst *tensor.Dense) error {
	if dst != nil && (!dst.Shape().Eq(sh.rOut) || dst.Dtype() != tensor.Float32) {
		return fmt.Errorf("r_out buffer is %v %v, want float32 %v", dst.Dtype(), dst.Shape(), sh.rOut)
	}
	return sh.valid()
}

// core runs the blocks between the shell's halves on sh.RIn and returns
// the state holding r_out.
func (m *Model) core(sh *Shell, hook Hook) (*state, error) {
	if !sh.RIn.Shape().Eq(sh.s.h.Shape()) || sh.RIn.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("r_in is %v %v, want float32 %v", sh.RIn.Dtype(), sh.RIn.Shape(), sh.s.h.Shape())
	}
	d := sh.split.Depth
	s := &state{m: m, r: sh.s.r, emb: sh.Emb, text: sh.s.text, h: sh.RIn, hook: hook}
	s.skips = append(append([]*tensor.Dense(nil), sh.skips...), sh.RIn)
	for i := d; i < len(m.plan.down); i++ {
		if err := s.down(i); err != nil {
			return nil, err
		}
	}
	if err := s.mid(); err != nil {
		return nil, err
	}
	for i := 0; i < len(m.plan.up)-d; i++ {
		if err := s.up(i); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ShellOut runs the shell's output half on rOut with the shell's skip
// tensors: up_blocks[n−Depth:] and the output head (their taps pass through
// hook). The result is a new tensor.
func (m *Model) ShellOut(sh *Shell, rOut *tensor.Dense, hook Hook) (*tensor.Dense, error) {
	if err := sh.valid(); err != nil {
		return nil, err
	}
	if !rOut.Shape().Eq(sh.rOut) {
		return nil, fmt.Errorf("r_out has shape %v, want %v", rOut.Shape(), sh.rOut)
	}
	if rOut.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("r_out has dtype %v, want float32", rOut.Dtype())
	}
	s := &state{m: m, r: sh.s.r, emb: sh.Emb, text: sh.s.text, h: rOut, hook: hook}
	s.skips = append([]*tensor.Dense(nil), sh.skips...)
	for i := len(m.plan.up) - sh.split.Depth; i < len(m.plan.up); i++ {
		if err := s.up(i); err != nil {
			return nil, err
		}
	}
	return s.head()
}
