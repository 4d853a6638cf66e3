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
// block or the head) with its host inputs and outputs.
type stage struct {
	m    *nn.Machine
	ins  []*G.Node
	outs []*G.Node
}

// run binds the inputs, runs the graph and returns its outputs, which stay
// valid until the stage runs again.
func (s *stage) run(in ...*tensor.Dense) ([]*tensor.Dense, error) {
	for i, t := range in {
		if !t.Shape().Eq(s.ins[i].Shape()) {
			return nil, fmt.Errorf("input %d has shape %v, want %v", i, t.Shape(), s.ins[i].Shape())
		}
		if err := nn.Let(s.ins[i], t); err != nil {
			return nil, err
		}
	}
	if err := s.m.Run(); err != nil {
		return nil, err
	}
	out := make([]*tensor.Dense, len(s.outs))
	for i, n := range s.outs {
		out[i] = nn.Value(n)
	}
	return out, nil
}

// runner holds the stages compiled for one input shape (N, H, W).
type runner struct {
	embed, convIn, mid, head *stage
	down, up                 []*stage
}

// compileStage builds a graph with inputs of the given shapes through f and
// compiles it.
func (m *Model) compileStage(shapes [][]int, f func(g *nn.Graph, in []*G.Node) []*G.Node) (*stage, error) {
	g := nn.NewGraph(m.Params)
	s := &stage{}
	if err := nn.Build(func() error {
		for i, sh := range shapes {
			s.ins = append(s.ins, g.Input(fmt.Sprintf("in%d", i), sh...))
		}
		s.outs = f(g, s.ins)
		return nil
	}); err != nil {
		return nil, err
	}
	var err error
	if s.m, err = g.CompilePlanned(s.outs...); err != nil {
		return nil, err
	}
	return s, nil
}

func shapeOf(n *G.Node) []int { return []int(n.Shape().Clone()) }

func (m *Model) runnerFor(n, h, w int) (*runner, error) {
	key := [3]int{n, h, w}
	if r, ok := m.runners[key]; ok {
		return r, nil
	}
	c := m.Config
	r := &runner{}
	var err error
	embShape := []int{n, c.TimeEmbedDim()}
	embIn := [][]int{{n, c.BlockOutChannels[0]}}
	if c.NumClasses() > 0 {
		embIn = append(embIn, []int{n, c.NumClasses()})
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
	hShape := shapeOf(r.convIn.outs[0])
	skipShapes := [][]int{hShape}
	for i := range m.plan.down {
		st, err := m.compileStage([][]int{hShape, embShape}, func(g *nn.Graph, in []*G.Node) []*G.Node {
			h, skips := m.Down(g, i, in[0], nn.SiLU(in[1]))
			return append([]*G.Node{h}, skips...)
		})
		if err != nil {
			return nil, err
		}
		r.down = append(r.down, st)
		hShape = shapeOf(st.outs[0])
		for _, o := range st.outs[1:] {
			skipShapes = append(skipShapes, shapeOf(o))
		}
	}
	if m.plan.mid != nil {
		if r.mid, err = m.compileStage([][]int{hShape, embShape}, func(g *nn.Graph, in []*G.Node) []*G.Node {
			return []*G.Node{m.Mid(g, in[0], nn.SiLU(in[1]))}
		}); err != nil {
			return nil, err
		}
	}
	for i := range m.plan.up {
		k := m.UpSkips(i)
		shapes := append([][]int{hShape, embShape}, skipShapes[len(skipShapes)-k:]...)
		skipShapes = skipShapes[:len(skipShapes)-k]
		st, err := m.compileStage(shapes, func(g *nn.Graph, in []*G.Node) []*G.Node {
			return []*G.Node{m.Up(g, i, in[0], in[2:], nn.SiLU(in[1]))}
		})
		if err != nil {
			return nil, err
		}
		r.up = append(r.up, st)
		hShape = shapeOf(st.outs[0])
	}
	if r.head, err = m.compileStage([][]int{hShape}, func(g *nn.Graph, in []*G.Node) []*G.Node {
		return []*G.Node{m.Head(g, in[0])}
	}); err != nil {
		return nil, err
	}
	if m.runners == nil {
		m.runners = map[[3]int]*runner{}
	}
	m.runners[key] = r
	return r, nil
}

// state is a forward pass in progress.
type state struct {
	m     *Model
	r     *runner
	emb   *tensor.Dense
	h     *tensor.Dense
	skips []*tensor.Dense
	hook  Hook
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
func (m *Model) begin(x *tensor.Dense, t []float64, labels []int64, hook Hook) (*state, error) {
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
	if f := 1 << (len(c.BlockOutChannels) - 1); h%f != 0 || w%f != 0 {
		return nil, fmt.Errorf("sample size %dx%d is not divisible by %d, as %d down blocks need", h, w, f, len(c.BlockOutChannels))
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
	switch {
	case c.NumClasses() > 0 && labels == nil:
		return nil, fmt.Errorf("model is class-conditional (num_class_embeds %d): class labels are required", c.NumClasses())
	case c.NumClasses() == 0 && labels != nil:
		return nil, fmt.Errorf("model is unconditional: class labels given")
	case labels != nil && len(labels) != n:
		return nil, fmt.Errorf("%d class labels for a batch of %d", len(labels), n)
	case labels != nil:
		oh, err := m.OneHot(labels)
		if err != nil {
			return nil, err
		}
		embIn = append(embIn, oh)
	}
	r, err := m.runnerFor(n, h, w)
	if err != nil {
		return nil, err
	}
	out, err := r.embed.run(embIn...)
	if err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	st := &state{m: m, r: r, emb: out[0], hook: hook}
	if out, err = r.convIn.run(x); err != nil {
		return nil, fmt.Errorf("conv_in: %w", err)
	}
	st.h = out[0]
	st.skips = []*tensor.Dense{st.h}
	return st, st.tap(TapConvIn)
}

func (s *state) down(i int) error {
	out, err := s.r.down[i].run(s.h, s.emb)
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
	out, err := s.r.mid.run(s.h, s.emb)
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
	out, err := s.r.up[i].run(in...)
	if err != nil {
		return fmt.Errorf("%s: %w", s.m.plan.up[i].prefix, err)
	}
	s.h = out[0]
	return s.tap(s.m.plan.up[i].prefix)
}

func (s *state) head() (*tensor.Dense, error) {
	out, err := s.r.head.run(s.h)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	return out[0].Clone().(*tensor.Dense), nil
}

// Forward runs the model on a batch: sample x (N,in_channels,H,W), one
// timestep per sample (or one for all), and class labels for
// class-conditional models (nil otherwise). hook, when not nil, sees every
// tap (see Taps) and may replace it. The result (N,out_channels,H,W) is a
// new tensor.
func (m *Model) Forward(x *tensor.Dense, t []float64, labels []int64, hook Hook) (*tensor.Dense, error) {
	s, err := m.begin(x, t, labels, hook)
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

// Shell is the state of the high-resolution shell after its input half
// (conv_in and down_blocks[0]): the core's input RIn (the output of
// down_blocks[0]), the skip tensors the shell's output half will consume,
// and the conditioning embedding Emb. Following Clockwork Diffusion
// (Habibian et al., CVPR 2024, Sec. 4.2), the low-resolution core in between
// (down_blocks[1:], mid_block, up_blocks[:-1]) can be run with Core or
// replaced by any function from RIn to a tensor of ROutShape.
//
// The tensors of a Shell are owned by the model and stay valid until its
// next ShellIn or Forward; copy what must outlive that.
type Shell struct {
	s     *state
	RIn   *tensor.Dense
	Emb   *tensor.Dense
	skips []*tensor.Dense
	rOut  tensor.Shape
}

// ROutShape returns the shape of the core's output r_out.
func (sh *Shell) ROutShape() tensor.Shape { return sh.rOut.Clone() }

// ShellIn runs conv_in and down_blocks[0] (the taps "conv_in" and
// "down_blocks.0" pass through hook). The model needs at least two blocks.
func (m *Model) ShellIn(x *tensor.Dense, t []float64, labels []int64, hook Hook) (*Shell, error) {
	if len(m.plan.down) < 2 {
		return nil, fmt.Errorf("a U-Net with %d block has no low-resolution core", len(m.plan.down))
	}
	s, err := m.begin(x, t, labels, hook)
	if err != nil {
		return nil, err
	}
	if err := s.down(0); err != nil {
		return nil, err
	}
	n := len(m.plan.up)
	rOut := s.r.up[n-2].outs[0].Shape().Clone()
	skips := s.skips[:len(s.skips)-1] // the last skip is r_in itself, consumed by the core
	return &Shell{s: s, RIn: s.h, Emb: s.emb, skips: skips, rOut: rOut}, nil
}

// Core runs the low-resolution core on sh.RIn (down_blocks[1:], mid_block,
// up_blocks[:-1], with their taps through hook) and returns r_out, the
// input of the last up block. The result is a new tensor.
func (m *Model) Core(sh *Shell, hook Hook) (*tensor.Dense, error) {
	if !sh.RIn.Shape().Eq(sh.s.h.Shape()) || sh.RIn.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("r_in is %v %v, want float32 %v", sh.RIn.Dtype(), sh.RIn.Shape(), sh.s.h.Shape())
	}
	s := &state{m: m, r: sh.s.r, emb: sh.Emb, h: sh.RIn, hook: hook}
	s.skips = append(append([]*tensor.Dense(nil), sh.skips...), sh.RIn)
	for i := 1; i < len(m.plan.down); i++ {
		if err := s.down(i); err != nil {
			return nil, err
		}
	}
	if err := s.mid(); err != nil {
		return nil, err
	}
	for i := 0; i < len(m.plan.up)-1; i++ {
		if err := s.up(i); err != nil {
			return nil, err
		}
	}
	return s.h.Clone().(*tensor.Dense), nil
}

// ShellOut runs the last up block on rOut with the shell's skip tensors, then
// the output head (the tap of the last up block passes through hook).
func (m *Model) ShellOut(sh *Shell, rOut *tensor.Dense, hook Hook) (*tensor.Dense, error) {
	if !rOut.Shape().Eq(sh.rOut) {
		return nil, fmt.Errorf("r_out has shape %v, want %v", rOut.Shape(), sh.rOut)
	}
	if rOut.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("r_out has dtype %v, want float32", rOut.Dtype())
	}
	s := &state{m: m, r: sh.s.r, emb: sh.Emb, h: rOut, hook: hook}
	s.skips = append([]*tensor.Dense(nil), sh.skips...)
	if err := s.up(len(m.plan.up) - 1); err != nil {
		return nil, err
	}
	return s.head()
}
