package distill

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
)

// Adaptor replaces the U-Net's low-resolution core on the adaptor steps of
// a Clockwork clock: from r_in_t (and the previous step's r_out) it
// estimates r_out_t (Habibian et al., CVPR 2024, Sec. 4.2).
type Adaptor interface {
	// Config returns the adaptor's configuration.
	Config() AdaptorConfig
	// Base returns the teacher, its split and the shapes the adaptor
	// works on.
	Base() *AdaptorBase
	// Apply returns the estimate of r_out_t. The result belongs to the
	// adaptor (or is one of the inputs) and is valid until the next Apply.
	Apply(in Inputs) (*tensor.Dense, error)
	// FLOPs returns the adaptor's FLOPs per sample, in unet.Cost's
	// conventions.
	FLOPs() int64
}

// Trainable is an adaptor with parameters that model-step distillation
// fits: a graph from its host inputs to r_out. Apply of a trainable
// adaptor usually runs the same graph (GraphRunner).
type Trainable interface {
	Adaptor
	// Params holds the trainable parameters, named "adaptor.…".
	Params() *nn.Params
	// Shapes returns the shapes of the graph's inputs for n rows.
	Shapes(n int) [][]int
	// Tensors assembles the graph's host inputs from in, in Shapes' order.
	Tensors(in Inputs) ([]*tensor.Dense, error)
	// Graph adds the adaptor to g, from input nodes of Shapes to r_out.
	// The teacher's parameters are in g's stores, frozen.
	Graph(g *nn.Graph, in []*G.Node) (*G.Node, error)
}

// Inputs are what an adaptor sees at an approximate step.
type Inputs struct {
	// RIn is r_in_t (N, Cin, h, w), the shell's input half's output.
	RIn *tensor.Dense
	// ROutPrev is r_out_{t+1}, the previous step's r_out (N, Cout, 2h, 2w).
	ROutPrev *tensor.Dense
	// Emb is the shell's embedding before SiLU (N, temb): time plus class
	// (unet.Shell.Emb).
	Emb *tensor.Dense
	// Cond is the rows' conditioning.
	Cond diffusion.Cond
	// Step is the 0-based sampling step; RowSteps, when set, gives each
	// row its own (a training batch mixes steps).
	Step     int
	RowSteps []int
	// StepSize is the step's size in timesteps (the previous step's
	// timestep minus this one's); RowStepSizes, when set, gives each row
	// its own. Only adaptors configured with StepSize read them.
	StepSize     float64
	RowStepSizes []float64
	// Shell is the shell of this pass (the oracle runs the real core on it).
	Shell *unet.Shell
}

// AdaptorBase is what every adaptor of a teacher shares: its configuration, the
// cut it replaces the core at, and the shapes of r_in and r_out for the
// teacher's sample size. Kinds embed it.
type AdaptorBase struct {
	Cfg     AdaptorConfig
	Teacher *unet.Model
	Cut     unet.Split
	// RIn and ROut are r_in's and r_out's per-sample shapes (C, H, W).
	RIn, ROut [3]int
	// Temb is the width of the teacher's timestep embedding, Classes its
	// number of classes (0: unconditional), TextWidth that of the pooled
	// text the adaptor conditions on (0: none; AdaptorConfig.Text).
	Temb, Classes, TextWidth int
}

// NewBase checks c and returns the base of an adaptor of it for teacher.
func NewBase(teacher *unet.Model, c AdaptorConfig) (*AdaptorBase, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	sp, err := teacher.SplitAt(c.Depth)
	if err != nil {
		return nil, fmt.Errorf("adaptor: %w", err)
	}
	h, w, err := teacher.Config.SampleHW()
	if err != nil {
		return nil, err
	}
	ri, ro := sp.RInShape(1, h, w), sp.ROutShape(1, h, w)
	b := &AdaptorBase{Cfg: c, Teacher: teacher, Cut: sp,
		RIn: [3]int{ri[1], ri[2], ri[3]}, ROut: [3]int{ro[1], ro[2], ro[3]},
		Temb: teacher.Config.TimeEmbedDim(), Classes: teacher.Config.NumClasses()}
	if c.Text {
		if !teacher.Config.Conditional() {
			return nil, fmt.Errorf("adaptor: a text-conditioned adaptor needs a text-conditioned teacher (%s)", unet.ClassUNet2DCondition)
		}
		b.TextWidth = teacher.Config.CrossAttentionDim
	}
	if ro[2] != 2*ri[2] || ro[3] != 2*ri[3] {
		return nil, fmt.Errorf("adaptor: r_in %v and r_out %v are not one octave apart", ri, ro)
	}
	return b, nil
}

// Config implements Adaptor.
func (b *AdaptorBase) Config() AdaptorConfig { return b.Cfg }

// Base implements Adaptor.
func (b *AdaptorBase) Base() *AdaptorBase { return b }

// Split returns the cut the adaptor replaces the core of.
func (b *AdaptorBase) Split() unet.Split { return b.Cut }

// NeedsPrev reports whether the adaptor reads the previous step's r_out.
func (b *AdaptorBase) NeedsPrev() bool { return b.Cfg.NeedsPrev() }

// New builds an adaptor of c's kind for a teacher, with parameters drawn
// from seed.
func New(teacher *unet.Model, c AdaptorConfig, seed uint64) (Adaptor, error) {
	b, err := NewBase(teacher, c)
	if err != nil {
		return nil, err
	}
	k, err := b.Cfg.kind()
	if err != nil {
		return nil, err
	}
	a, err := k.New(b, seed)
	if err != nil {
		return nil, fmt.Errorf("%s adaptor: %w", c.Kind, err)
	}
	if _, ok := a.(Trainable); k.Trainable && !ok {
		return nil, fmt.Errorf("adaptor kind %s says it is trainable but its adaptor does not implement Trainable", k.Name)
	}
	return a, nil
}

// ParamCount returns a's number of trainable parameters (0 for an adaptor
// without any).
func ParamCount(a Adaptor) int {
	if t, ok := a.(Trainable); ok {
		return t.Params().Count()
	}
	return 0
}

// GraphRunner runs a trainable adaptor's graph on host inputs, compiled
// once per input shape: what Apply of a graph adaptor calls.
type GraphRunner struct {
	funcs nn.Funcs
}

// Run returns t's output for in.
func (r *GraphRunner) Run(t Trainable, in Inputs) (*tensor.Dense, error) {
	if r.funcs.Def == nil {
		r.funcs.Def = func([][]int) nn.FuncDef {
			return nn.FuncDef{Params: t.Params(), Frozen: []*nn.Params{t.Base().Teacher.Params},
				Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
					out, err := t.Graph(g, in)
					return []*G.Node{out}, err
				}}
		}
	}
	gin, err := t.Tensors(in)
	if err != nil {
		return nil, err
	}
	out, err := r.funcs.Call(gin...)
	if err != nil {
		return nil, fmt.Errorf("%s adaptor: %w", t.Config().Kind, err)
	}
	return out[0], nil
}
