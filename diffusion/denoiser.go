package diffusion

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/unet"
)

// Denoiser is what samplers see of a model: its output (of the schedule's
// prediction type) for a batch x at timestep t under conditioning c (one
// row per row of x; the zero Cond for an unconditional model). Samplers call
// it once per model evaluation, with the same t for the whole batch.
type Denoiser interface {
	Predict(x *tensor.Dense, t float64, c Cond) (*tensor.Dense, error)
}

// Row says what one row of a batch handed to a denoiser is.
type Row struct {
	// Sample is the sample's index in its seed's sequence: the sampler's
	// FirstIndex plus its position in the sampler's batch.
	Sample int
	// Branch is the branch of guidance the row is evaluated on.
	Branch Branch
}

// StepInfo describes one model evaluation of a sampling run (one per step
// for the first-order and multistep samplers; more for Heun-like ones).
type StepInfo struct {
	Index int           // 0-based evaluation index
	Steps int           // model evaluations of the run
	T     float64       // timestep given to the model
	X     *tensor.Dense // the model input at this evaluation (N rows); read only

	// Seed and FirstIndex are the run's noise seed and the index of the
	// batch's first sample (Options): with Rows they let a step hook draw
	// noise of its own per sample, independent of the batch it is in.
	Seed       uint64
	FirstIndex int
	// Rows describes the rows of the batch the receiving denoiser's Predict
	// is called with at this step, in order, and Cond their conditioning:
	// the sampler's N samples, or for a denoiser inside Guided the N
	// conditional rows followed by those of each null branch.
	Rows []Row
	Cond Cond
}

// StepEnd describes a finished model evaluation.
type StepEnd struct {
	StepInfo
	// Denoised is the evaluation's estimate of x₀ (N rows, after any
	// clipping the sampler applies), valid during the call only.
	Denoised *tensor.Dense
	// Next is the sampler's state after the step (x_{t−1}; for euler the
	// state in σ-space, x/√ᾱ), valid during the call only.
	Next *tensor.Dense
}

// Stepper is implemented by denoisers whose behaviour depends on the step
// (feature perturbations, Clockwork's alternation of full and approximate
// steps); the sampling run calls BeginStep before each Predict. This is how
// such methods plug in without the samplers knowing about them.
type Stepper interface {
	BeginStep(StepInfo) error
}

// StepEnder is implemented by denoisers that want to see each step's
// result; the sampling run calls EndStep after the step's update.
type StepEnder interface {
	EndStep(StepEnd) error
}

// Wrapper is a denoiser built around another one (Guided, a Clockwork or
// perturbation wrapper of a user's). The sampling run calls BeginStep and
// EndStep on every layer of a chain of wrappers that implements them,
// outermost first, so a wrapper never forwards them by hand.
type Wrapper interface {
	Denoiser
	Unwrap() Denoiser
}

// RowMapper is a wrapper whose inner denoiser sees other rows than it does
// (Guided stacks the branches of guidance): InnerRows maps the rows of its
// own batch, and their conditioning, to those of the batch it hands on.
type RowMapper interface {
	InnerRows(rows []Row, c Cond) ([]Row, Cond, error)
}

// FLOPCounter is implemented by denoisers that count the floating-point
// operations of the model evaluations they run, in the conventions of
// unet.Cost; FLOPs returns the total so far. Evaluation divides the count
// of a run by its samples, so methods whose cost differs from step to step
// (Clockwork) are accounted for as they ran.
type FLOPCounter interface {
	FLOPs() int64
}

// Tapper is implemented by denoisers that run a U-Net and pass its feature
// taps (unet.Hook) to a hook: ModelDenoiser, and Clockwork through its
// shell, core and adaptor. A wrapper above one in the chain (a feature
// perturbation) sets the hook for its calls; nil removes it.
type Tapper interface {
	SetTapHook(unet.Hook)
}

// Layers returns d and the denoisers it wraps, outermost first.
func Layers(d Denoiser) []Denoiser {
	var out []Denoiser
	for d != nil {
		out = append(out, d)
		w, ok := d.(Wrapper)
		if !ok {
			break
		}
		d = w.Unwrap()
	}
	return out
}

// CountedFLOPs returns the count of the outermost FLOPCounter of d's chain,
// and false when there is none.
func CountedFLOPs(d Denoiser) (int64, bool) {
	for _, l := range Layers(d) {
		if c, ok := l.(FLOPCounter); ok {
			return c.FLOPs(), true
		}
	}
	return 0, false
}

// FindTapper returns the outermost Tapper of d's chain, or nil.
func FindTapper(d Denoiser) Tapper {
	for _, l := range Layers(d) {
		if t, ok := l.(Tapper); ok {
			return t
		}
	}
	return nil
}

// ModelDenoiser runs a U-Net as a Denoiser. Hook, when set, sees the
// U-Net's taps on every forward pass; a step hook can change it from step
// to step (to perturb features from some step on, say). A conditioning
// image is concatenated to the input along the channels.
//
// It counts the FLOPs of its forward passes (FLOPCounter): the analytic
// cost of the whole U-Net (unet.Model.CostAt, at the text's length) per
// row.
type ModelDenoiser struct {
	Model *unet.Model
	Hook  unet.Hook

	flops  int64
	costHW [3]int
	cost   int64
}

// Predict implements Denoiser.
func (m *ModelDenoiser) Predict(x *tensor.Dense, t float64, c Cond) (*tensor.Dense, error) {
	in, err := ModelInput(m.Model, x, c)
	if err != nil {
		return nil, err
	}
	out, err := m.Model.Forward(in, []float64{t}, c.UNet(), m.Hook)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	m.flops += int64(s[0]) * m.passFLOPs(s[2], s[3], c.Tokens())
	return out, nil
}

// SetTapHook implements Tapper.
func (m *ModelDenoiser) SetTapHook(h unet.Hook) { m.Hook = h }

// passFLOPs returns the FLOPs of one forward pass of one h×w sample
// attending to tokens text tokens.
func (m *ModelDenoiser) passFLOPs(h, w, tokens int) int64 {
	if m.costHW != [3]int{h, w, tokens} || m.cost == 0 {
		_, m.cost = m.Model.CostAt(h, w, tokens).Total()
		m.costHW = [3]int{h, w, tokens}
	}
	return m.cost
}

// FLOPs implements FLOPCounter.
func (m *ModelDenoiser) FLOPs() int64 { return m.flops }

// ModelInput returns what a U-Net is run on for the noisy batch x under c:
// x itself, or x with c's image concatenated along the channels. It
// reports conditioning the model cannot take: text for a model without
// cross-attention (or none for one with), an image the model has no input
// channels for (or lacks one it needs), labels for a model without class
// embeddings.
func ModelInput(m *unet.Model, x *tensor.Dense, c Cond) (*tensor.Dense, error) {
	s := x.Shape()
	if err := c.Check(s[0]); err != nil {
		return nil, err
	}
	switch {
	case c.Text != nil && !m.Config.Conditional():
		return nil, fmt.Errorf("text conditioning: the model (%s) has no cross-attention", unet.ClassUNet2D)
	case c.Text == nil && m.Config.Conditional():
		return nil, fmt.Errorf("the model (%s) is conditioned on text: a prompt's embeddings are required", unet.ClassUNet2DCondition)
	case c.Labels != nil && m.Config.NumClasses() == 0:
		return nil, fmt.Errorf("class labels for a model without class embeddings")
	}
	extra := m.Config.InChannels - s[1]
	if c.Image == nil {
		if extra != 0 {
			return nil, fmt.Errorf("a sample of %d channels for a model of %d input channels (an image-conditioned model needs Cond.Image)", s[1], m.Config.InChannels)
		}
		return x, nil
	}
	is := c.Image.Shape()
	if is[1] != extra || is[2] != s[2] || is[3] != s[3] {
		return nil, fmt.Errorf("conditioning image %v with samples %v: the model takes %d input channels", is, s, m.Config.InChannels)
	}
	return ConcatChannels(x, c.Image), nil
}

// ConcatChannels stacks a (N, Ca, H, W) and b (N, Cb, H, W) along the
// channels into a new tensor.
func ConcatChannels(a, b *tensor.Dense) *tensor.Dense {
	sa, sb := a.Shape(), b.Shape()
	n, hw := sa[0], sa[2]*sa[3]
	pa, pb := sa[1]*hw, sb[1]*hw
	out := make([]float32, n*(pa+pb))
	ad, bd := a.Data().([]float32), b.Data().([]float32)
	for i := 0; i < n; i++ {
		copy(out[i*(pa+pb):], ad[i*pa:(i+1)*pa])
		copy(out[i*(pa+pb)+pa:], bd[i*pb:(i+1)*pb])
	}
	return tensor.New(tensor.WithShape(n, sa[1]+sb[1], sa[2], sa[3]), tensor.WithBacking(out))
}
