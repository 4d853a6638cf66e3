package distill

import (
	"fmt"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
)

// Kinds lists the adaptors: identity (no parameters), scaleshift, resnet
// (the paper's), unet-light; oracle runs the real core (a test of the
// machinery, and the teacher itself).
var Kinds = []string{"identity", "scaleshift", "resnet", "unet-light", "oracle"}

// Spec describes an adaptor.
type Spec struct {
	Kind string `json:"kind"`
	// Width is the adaptor's channel width (resnet default 32, unet-light
	// default 8; unused by identity, scaleshift and oracle).
	Width int `json:"width,omitempty"`
	// Depth is the cut (unet.Split): 1 replaces everything below the first
	// down and the last up block.
	Depth int `json:"cut_depth"`
	// NoPrev drops the previous step's r_out from the adaptor's inputs
	// (and its residual connection): the paper's input ablation, and the
	// only kind of adaptor that can run at every step.
	NoPrev bool `json:"no_prev,omitempty"`
	// Steps is the number of sampling steps (scaleshift keeps one scale and
	// shift per step).
	Steps int `json:"steps"`
	// StepSize conditions a resnet or unet-light adaptor on the step's size
	// (the previous step's timestep minus this one's, through a sinusoidal
	// projection and a small MLP added to the timestep embedding), so that
	// one adaptor can serve several step counts.
	StepSize bool `json:"step_size,omitempty"`
}

// DefaultWidth returns a kind's default width.
func DefaultWidth(kind string) int {
	switch kind {
	case "resnet":
		return 32
	case "unet-light":
		return 8
	}
	return 0
}

// Validate reports an unknown kind or an impossible combination.
func (s Spec) Validate() error {
	if !slices.Contains(Kinds, s.Kind) {
		return fmt.Errorf("unknown adaptor %q (have %v)", s.Kind, Kinds)
	}
	if s.Depth < 1 {
		return fmt.Errorf("cut depth %d must be at least 1", s.Depth)
	}
	if s.Steps < 1 {
		return fmt.Errorf("adaptor for %d sampling steps", s.Steps)
	}
	switch s.Kind {
	case "resnet", "unet-light":
		if s.Width < 1 || s.Width > 4096 {
			return fmt.Errorf("%s adaptor width %d: want 1 to 4096", s.Kind, s.Width)
		}
	}
	if s.NoPrev && s.Kind != "resnet" && s.Kind != "unet-light" {
		return fmt.Errorf("a %s adaptor needs the previous step's r_out: only resnet and unet-light take -no-prev", s.Kind)
	}
	if s.StepSize && s.Kind != "resnet" && s.Kind != "unet-light" {
		return fmt.Errorf("only resnet and unet-light adaptors condition on the step size, not %s", s.Kind)
	}
	return nil
}

// NeedsPrev reports whether the adaptor reads the previous step's r_out.
func (s Spec) NeedsPrev() bool { return s.Kind != "oracle" && !s.NoPrev }

// Inputs are what an adaptor sees at an approximate step.
type Inputs struct {
	// RIn is r_in_t (N, Cin, h, w), the shell's input half's output.
	RIn *tensor.Dense
	// ROutPrev is r_out_{t+1}, the previous step's r_out (N, Cout, 2h, 2w).
	ROutPrev *tensor.Dense
	// Emb is the shell's embedding before SiLU (N, temb): time plus class
	// (unet.Shell.Emb).
	Emb *tensor.Dense
	// Labels are the rows' class labels (nil for unconditional models).
	Labels []int64
	// Step is the 0-based sampling step; RowSteps, when set, gives each
	// row its own (a training batch mixes steps).
	Step     int
	RowSteps []int
	// StepSize is the step's size in timesteps (the previous step's
	// timestep minus this one's); RowStepSizes, when set, gives each row
	// its own. Only adaptors with Spec.StepSize read them.
	StepSize     float64
	RowStepSizes []float64
	// Shell is the shell of this pass (the oracle runs the real core on it).
	Shell *unet.Shell
}

// Adaptor replaces the U-Net's low-resolution core on approximate steps.
type Adaptor struct {
	Spec Spec
	// Params holds the trainable parameters, named "adaptor.…" (empty for
	// identity and oracle).
	Params *nn.Params

	teacher *unet.Model
	split   unet.Split
	cin     [3]int // r_in per sample (C, h, w) for 32×32 samples of the teacher
	cout    [3]int // r_out per sample
	temb    int
	classes int
	groups  int
	funcs   nn.Funcs
}

// New builds an adaptor for a teacher with parameters drawn from seed.
// Adaptors are built for the teacher's sample size.
func New(teacher *unet.Model, s Spec, seed uint64) (*Adaptor, error) {
	if s.Width == 0 {
		s.Width = DefaultWidth(s.Kind)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	sp, err := teacher.SplitAt(s.Depth)
	if err != nil {
		return nil, fmt.Errorf("adaptor: %w", err)
	}
	h, w, err := teacher.Config.SampleHW()
	if err != nil {
		return nil, err
	}
	ri, ro := sp.RInShape(1, h, w), sp.ROutShape(1, h, w)
	a := &Adaptor{Spec: s, Params: nn.NewParams(), teacher: teacher, split: sp,
		cin: [3]int{ri[1], ri[2], ri[3]}, cout: [3]int{ro[1], ro[2], ro[3]},
		temb: teacher.Config.TimeEmbedDim(), classes: teacher.Config.NumClasses()}
	if ro[2] != 2*ri[2] || ro[3] != 2*ri[3] {
		return nil, fmt.Errorf("adaptor: r_in %v and r_out %v are not one octave apart", ri, ro)
	}
	if a.cin[1]%4 != 0 || a.cin[2]%4 != 0 {
		return nil, fmt.Errorf("adaptor: r_in of %d×%d cannot be halved twice", a.cin[1], a.cin[2])
	}
	a.groups = groupsFor(s.Width)
	a.declare(seed)
	return a, nil
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

// RInShape returns the per-sample shape (C, H, W) of r_in.
func (a *Adaptor) RInShape() [3]int { return a.cin }

// ROutShape returns the per-sample shape (C, H, W) of r_out.
func (a *Adaptor) ROutShape() [3]int { return a.cout }

// Split returns the cut the adaptor replaces the core of.
func (a *Adaptor) Split() unet.Split { return a.split }

func (a *Adaptor) resblock(in, out int) nn.ResBlock {
	return nn.ResBlock{In: in, Out: out, Temb: a.temb, Groups: a.groups, Eps: 1e-5, OutScale: 1}
}

// declare adds the adaptor's parameters.
func (a *Adaptor) declare(seed uint64) {
	p, s := a.Params, a.Spec
	cin, cout, w := a.cin[0], a.cout[0], s.Width
	inCh := cin
	if s.NeedsPrev() {
		inCh += cout
	}
	cond := a.classes > 0
	if s.StepSize {
		c0 := a.teacher.Config.BlockOutChannels[0]
		nn.DeclareLinear(p, seed, "adaptor.step_embedding.linear_1", c0, a.temb)
		nn.DeclareLinear(p, seed, "adaptor.step_embedding.linear_2", a.temb, a.temb)
	}
	switch s.Kind {
	case "scaleshift":
		p.Declare("adaptor.scale", seed, nn.Const(1), s.Steps, cout)
		p.Declare("adaptor.shift", seed, nn.Const(0), s.Steps, cout)
	case "resnet":
		nn.DeclareConv(p, seed, "adaptor.conv_in", inCh, w, 3)
		if cond {
			nn.DeclareLinear(p, seed, "adaptor.cond_proj", a.temb, w)
		}
		a.resblock(w, w).Declare(p, seed, "adaptor.resnets.0")
		a.resblock(w, w).Declare(p, seed, "adaptor.resnets.1")
		nn.DeclareGroupNorm(p, seed, "adaptor.norm_out", w)
		nn.DeclareConv(p, seed, "adaptor.conv_out", w, cout*16, 1)
		a.zeroOut("adaptor.conv_out")
	case "unet-light":
		nn.DeclareConv(p, seed, "adaptor.conv_in", inCh, w, 3)
		if cond {
			nn.DeclareLinear(p, seed, "adaptor.cond_proj", a.temb, w)
		}
		nn.DeclareConv(p, seed, "adaptor.down", w, 2*w, 3)
		a.resblock(2*w, 2*w).Declare(p, seed, "adaptor.mid")
		nn.DeclareConv(p, seed, "adaptor.up", 2*w, w, 3)
		a.resblock(2*w, w).Declare(p, seed, "adaptor.dec")
		nn.DeclareGroupNorm(p, seed, "adaptor.norm_out", w)
		nn.DeclareConv(p, seed, "adaptor.conv_out", w, cout*4, 1)
		a.zeroOut("adaptor.conv_out")
	}
}

// zeroOut zeroes the output convolution of an adaptor with a residual
// connection from r_out_{t+1}, so that training starts at the identity
// adaptor.
func (a *Adaptor) zeroOut(prefix string) {
	if !a.Spec.NeedsPrev() {
		return
	}
	clear(a.Params.Data(prefix + ".weight"))
	clear(a.Params.Data(prefix + ".bias"))
}

// graphInputs lists which inputs the adaptor's graph takes, in order.
type graphInputs struct {
	prev, emb, onehot, step, dt bool
}

func (a *Adaptor) inputs() graphInputs {
	s := a.Spec
	switch s.Kind {
	case "scaleshift":
		return graphInputs{prev: true, step: true}
	case "resnet", "unet-light":
		return graphInputs{prev: s.NeedsPrev(), emb: true, onehot: a.classes > 0, dt: s.StepSize}
	}
	return graphInputs{}
}

// shapes returns the graph's input shapes for n rows.
func (a *Adaptor) shapes(n int) [][]int {
	in := a.inputs()
	out := [][]int{{n, a.cin[0], a.cin[1], a.cin[2]}}
	if in.prev {
		out = append(out, []int{n, a.cout[0], a.cout[1], a.cout[2]})
	}
	if in.emb {
		out = append(out, []int{n, a.temb})
	}
	if in.onehot {
		out = append(out, []int{n, a.classes})
	}
	if in.step {
		out = append(out, []int{n, a.Spec.Steps})
	}
	if in.dt {
		out = append(out, []int{n, a.teacher.Config.BlockOutChannels[0]})
	}
	return out
}

// Graph adds the adaptor to g: from the input nodes in the order of its
// inputs (r_in, then as the kind takes them r_out_{t+1}, the embedding, the
// one-hot class, the one-hot step, the step size's sinusoidal projection)
// to r_out. The teacher's parameters must
// be in g's stores (frozen) for class-conditional models.
func (a *Adaptor) Graph(g *nn.Graph, in []*G.Node) *G.Node {
	gi := a.inputs()
	rIn := in[0]
	k := 1
	var prev, emb, onehot, step, dt *G.Node
	if gi.prev {
		prev, k = in[k], k+1
	}
	if gi.emb {
		emb, k = in[k], k+1
	}
	if gi.onehot {
		onehot, k = in[k], k+1
	}
	if gi.step {
		step, k = in[k], k+1
	}
	if gi.dt {
		dt = in[k]
	}
	s := a.Spec
	switch s.Kind {
	case "scaleshift":
		scale := nn.MatMul(step, g.Param("adaptor.scale"), false, false)
		shift := nn.MatMul(step, g.Param("adaptor.shift"), false, false)
		return nn.AddChannel(nn.ScaleChannel(prev, scale), shift)
	case "resnet", "unet-light":
		x := rIn
		if prev != nil {
			x = nn.ConcatChannels(rIn, nn.AvgPool2x(prev))
		}
		if dt != nil {
			e := g.Linear("adaptor.step_embedding.linear_1", dt)
			emb = nn.Add(emb, g.Linear("adaptor.step_embedding.linear_2", nn.SiLU(e)))
		}
		act := nn.SiLU(emb)
		cond := func(h *G.Node) *G.Node {
			if onehot == nil {
				return h
			}
			// A linear projection of the teacher's class embedding.
			c := g.Embedding("class_embedding", onehot)
			return nn.AddChannel(h, g.Linear("adaptor.cond_proj", c))
		}
		var h *G.Node
		r := 4
		if s.Kind == "resnet" {
			h = cond(g.Conv("adaptor.conv_in", x, nn.Same(3, 2, 1)))
			h = a.resblock(s.Width, s.Width).Apply(g, "adaptor.resnets.0", h, act)
			h = a.resblock(s.Width, s.Width).Apply(g, "adaptor.resnets.1", h, act)
		} else {
			e := cond(g.Conv("adaptor.conv_in", x, nn.Same(3, 1, 1)))
			d := g.Conv("adaptor.down", e, nn.Same(3, 2, 1))
			d = a.resblock(2*s.Width, 2*s.Width).Apply(g, "adaptor.mid", d, act)
			u := g.Conv("adaptor.up", nn.Upsample2x(d), nn.Same(3, 1, 1))
			h = a.resblock(2*s.Width, s.Width).Apply(g, "adaptor.dec", nn.ConcatChannels(u, e), act)
			r = 2
		}
		h = g.GroupNorm("adaptor.norm_out", h, a.groups, 1e-5, true)
		h = g.Conv("adaptor.conv_out", h, nn.Same(1, 1, 0))
		if prev != nil {
			// r_out(t+1) plus the sub-pixel output, in one pass.
			return nn.AddDepthToSpace(prev, h, r)
		}
		return nn.DepthToSpace(h, r)
	}
	panic(fmt.Sprintf("distill: adaptor %q has no graph", s.Kind))
}

// Cost returns the adaptor's analytic cost per sample in the conventions
// of unet.Cost.
func (a *Adaptor) Cost() unet.Cost {
	var b unet.CostBuilder
	s := a.Spec
	cin, h, w := a.cin[0], a.cin[1], a.cin[2]
	cout, H, W := a.cout[0], a.cout[1], a.cout[2]
	switch s.Kind {
	case "scaleshift":
		b.Sum("adaptor.scale", cout*H*W) // one multiply per element
		b.Sum("adaptor.shift", cout*H*W)
	case "resnet", "unet-light":
		inCh := cin
		if s.NeedsPrev() {
			b.Sum("adaptor.pool", cout*H*W)
			inCh += cout
		}
		if s.StepSize {
			c0 := a.teacher.Config.BlockOutChannels[0]
			b.Linear("adaptor.step_embedding.linear_1", 1, c0, a.temb)
			b.Act("adaptor.step_embedding.act", a.temb)
			b.Linear("adaptor.step_embedding.linear_2", 1, a.temb, a.temb)
			b.Sum("adaptor.step_embedding.add", a.temb)
		}
		b.Act("adaptor.emb_act", a.temb)
		condCost := func(c, hh, ww int) {
			if a.classes > 0 {
				b.Linear("adaptor.cond_proj", 1, a.temb, c)
				b.Sum("adaptor.cond_add", c*hh*ww)
			}
		}
		var oh, ow, r int
		if s.Kind == "resnet" {
			oh, ow, r = h/2, w/2, 4
			b.Conv("adaptor.conv_in", inCh, s.Width, 3, oh, ow)
			condCost(s.Width, oh, ow)
			b.ResBlock("adaptor.resnets.0", a.resblock(s.Width, s.Width), oh, ow)
			b.ResBlock("adaptor.resnets.1", a.resblock(s.Width, s.Width), oh, ow)
		} else {
			oh, ow, r = h, w, 2
			b.Conv("adaptor.conv_in", inCh, s.Width, 3, h, w)
			condCost(s.Width, h, w)
			b.Conv("adaptor.down", s.Width, 2*s.Width, 3, h/2, w/2)
			b.ResBlock("adaptor.mid", a.resblock(2*s.Width, 2*s.Width), h/2, w/2)
			b.Conv("adaptor.up", 2*s.Width, s.Width, 3, h, w)
			b.ResBlock("adaptor.dec", a.resblock(2*s.Width, s.Width), h, w)
		}
		b.Norm("adaptor.norm_out", s.Width*oh*ow, true)
		b.Conv("adaptor.conv_out", s.Width, cout*r*r, 1, oh, ow)
		if s.NeedsPrev() {
			b.Sum("adaptor.residual", cout*H*W)
		}
	}
	return b.Cost
}

// FLOPs returns the adaptor's FLOPs per sample.
func (a *Adaptor) FLOPs() int64 {
	if a.Spec.Kind == "oracle" {
		_, core := a.split.Cost(a.teacher.Cost(a.teacherHW()))
		return core
	}
	_, f := a.Cost().Total()
	return f
}

func (a *Adaptor) teacherHW() (int, int) {
	h, w, _ := a.teacher.Config.SampleHW()
	return h, w
}

// graphIn assembles the host inputs of the adaptor's graph.
func (a *Adaptor) graphIn(in Inputs) ([]*tensor.Dense, error) {
	n := in.RIn.Shape()[0]
	gi := a.inputs()
	out := []*tensor.Dense{in.RIn}
	if gi.prev {
		if in.ROutPrev == nil {
			return nil, fmt.Errorf("%s adaptor at step %d: no previous step's r_out", a.Spec.Kind, in.Step+1)
		}
		if in.ROutPrev.Shape()[0] != n {
			return nil, fmt.Errorf("%s adaptor: r_out of the previous step has %d rows, r_in %d", a.Spec.Kind, in.ROutPrev.Shape()[0], n)
		}
		out = append(out, in.ROutPrev)
	}
	if gi.emb {
		out = append(out, in.Emb)
	}
	if gi.onehot {
		oh, err := a.teacher.OneHot(in.Labels)
		if err != nil {
			return nil, err
		}
		if len(in.Labels) != n {
			return nil, fmt.Errorf("adaptor: %d labels for %d rows", len(in.Labels), n)
		}
		out = append(out, oh)
	}
	if gi.step {
		d := make([]float32, n*a.Spec.Steps)
		for i := 0; i < n; i++ {
			st := in.Step
			if in.RowSteps != nil {
				st = in.RowSteps[i]
			}
			if st < 0 || st >= a.Spec.Steps {
				return nil, fmt.Errorf("%s adaptor for %d steps run at step %d", a.Spec.Kind, a.Spec.Steps, st+1)
			}
			d[i*a.Spec.Steps+st] = 1
		}
		out = append(out, tensor.New(tensor.WithShape(n, a.Spec.Steps), tensor.WithBacking(d)))
	}
	if gi.dt {
		dts := make([]float64, n)
		for i := range dts {
			dts[i] = in.StepSize
			if in.RowStepSizes != nil {
				dts[i] = in.RowStepSizes[i]
			}
			if !(dts[i] > 0) {
				return nil, fmt.Errorf("%s adaptor at step %d: step size %g (it needs a previous step)", a.Spec.Kind, in.Step+1, dts[i])
			}
		}
		out = append(out, a.teacher.TimeProj(dts))
	}
	return out, nil
}

// Apply returns the adaptor's estimate of r_out_t. The result belongs to
// the adaptor (or, for identity, is the input itself) and is valid until
// the next Apply.
func (a *Adaptor) Apply(in Inputs) (*tensor.Dense, error) {
	switch a.Spec.Kind {
	case "identity":
		if in.ROutPrev == nil {
			return nil, fmt.Errorf("identity adaptor at step %d: no previous step's r_out", in.Step+1)
		}
		return in.ROutPrev, nil
	case "oracle":
		if in.Shell == nil {
			return nil, fmt.Errorf("oracle adaptor: no shell")
		}
		return a.teacher.Core(in.Shell, nil)
	}
	if a.funcs.Spec == nil {
		a.funcs.Spec = func([][]int) nn.FuncSpec {
			return nn.FuncSpec{Params: a.Params, Frozen: []*nn.Params{a.teacher.Params},
				Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) { return []*G.Node{a.Graph(g, in)}, nil }}
		}
	}
	gin, err := a.graphIn(in)
	if err != nil {
		return nil, err
	}
	out, err := a.funcs.Call(gin...)
	if err != nil {
		return nil, fmt.Errorf("%s adaptor: %w", a.Spec.Kind, err)
	}
	return out[0], nil
}
