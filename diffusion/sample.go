package diffusion

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/unet"
)

// Denoiser is what samplers see of a model: its output (of the schedule's
// prediction type) for a batch x at timestep t, with class labels (nil when
// unconditional). Samplers call it once per step, with the same t for the
// whole batch.
type Denoiser interface {
	Predict(x *tensor.Dense, t float64, labels []int64) (*tensor.Dense, error)
}

// Row says what one row of a batch handed to a denoiser is.
type Row struct {
	// Sample is the sample's index in its seed's sequence: the sampler's
	// FirstIndex plus its position in the sampler's batch.
	Sample int
	// Label is the class label the row is evaluated with (the null class on
	// the unconditional branch of guidance), −1 for unconditional models.
	Label int64
	// Null marks the unconditional branch of classifier-free guidance.
	Null bool
}

// StepInfo describes one sampling step.
type StepInfo struct {
	Index int           // 0-based step index
	Steps int           // number of steps of the run
	T     float64       // timestep given to the model
	X     *tensor.Dense // the sampler's model input at this step (x_t, N rows); read only

	// Seed and FirstIndex are the run's noise seed and the index of the
	// batch's first sample (Options): with Rows they let a step hook draw
	// noise of its own per sample, independent of the batch it is in.
	Seed       uint64
	FirstIndex int
	// Rows describes the rows of the batch the receiving denoiser's Predict
	// is called with at this step, in order: the sampler's N samples, or
	// for a denoiser inside Guided the N conditional rows followed by the N
	// null-class rows.
	Rows []Row
}

// StepEnd describes a finished sampling step.
type StepEnd struct {
	StepInfo
	// Denoised is the step's estimate of x₀ (N rows, after any clipping
	// the sampler applies), valid during the call only.
	Denoised *tensor.Dense
	// Next is the sampler's state after the step (x_{t−1}; for euler the
	// state in σ-space, x/√ᾱ), valid during the call only.
	Next *tensor.Dense
}

// Stepper is implemented by denoisers whose behaviour depends on the step
// (feature perturbations, Clockwork's alternation of full and approximate
// steps); samplers call BeginStep before each Predict. This is how such
// studies plug in without the samplers knowing about them.
type Stepper interface {
	BeginStep(StepInfo) error
}

// StepEnder is implemented by denoisers that want to see each step's
// result; samplers call EndStep after the step's update.
type StepEnder interface {
	EndStep(StepEnd) error
}

// Wrapper is a denoiser built around another one (Guided, a Clockwork or
// perturbation wrapper of a user's). Samplers call BeginStep and EndStep on
// every layer of a chain of wrappers that implements them, outermost first,
// so a wrapper never forwards them by hand.
type Wrapper interface {
	Denoiser
	Unwrap() Denoiser
}

// RowMapper is a wrapper whose inner denoiser sees other rows than it does
// (Guided doubles them): InnerRows maps the rows of its own batch to those
// of the batch it hands on.
type RowMapper interface {
	InnerRows(rows []Row) []Row
}

// FLOPCounter is implemented by denoisers that count the floating-point
// operations of the model evaluations they run, in the conventions of
// unet.Cost; FLOPs returns the total so far. Evaluation divides the count
// of a run by its samples, so methods whose cost differs from step to step
// (Clockwork) are accounted for as they ran.
type FLOPCounter interface {
	FLOPs() int64
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

// Samplers lists the samplers Sample accepts.
var Samplers = []string{"ddpm", "ddim", "dpmpp2m", "euler"}

// Options configure a sampling run.
type Options struct {
	Sampler string // one of Samplers
	Steps   int
	Spacing string // timestep spacing; empty for the sampler's default

	Eta      float64 // DDIM: 0 is deterministic DDIM, 1 is DDPM-like
	Variance string  // DDPM: "fixed_small" (default) or "fixed_large"
	NoClip   bool    // DDPM, DDIM: do not clip the predicted x₀ to [−1, 1]

	// Seed and FirstIndex pick the noise: sample j of the seed's sequence
	// (the batch holds samples FirstIndex, FirstIndex+1, ...) draws all its
	// noise from its own stream, so a sample is the same whatever batch it
	// is drawn in.
	Seed       uint64
	FirstIndex int

	Labels []int64 // class labels, one per sample, or nil

	// Hook, when set, is called at every step before the model, after the
	// denoisers' BeginStep; AfterStep after the step's update, after their
	// EndStep. Both see the sampler's rows.
	Hook      func(StepInfo) error
	AfterStep func(StepEnd) error

	noise func(step, sample int, dst []float32) // tests: replaces the streams
}

// noiseStreams draws per-sample Gaussian noise.
type noiseStreams struct {
	rngs  []*rand.Rand
	per   int
	first func(step, sample int, dst []float32)
}

func newStreams(o Options, n, per int) *noiseStreams {
	ns := &noiseStreams{per: per, first: o.noise}
	for j := 0; j < n; j++ {
		ns.rngs = append(ns.rngs, rand.New(rand.NewPCG(o.Seed, uint64(o.FirstIndex+j))))
	}
	return ns
}

// fill writes the next noise of every sample into dst (N·per values); step
// −1 is the initial noise.
func (ns *noiseStreams) fill(step int, dst []float32) {
	for j, r := range ns.rngs {
		d := dst[j*ns.per : (j+1)*ns.per]
		if ns.first != nil {
			ns.first(step, j, d)
			continue
		}
		for i := range d {
			d[i] = float32(r.NormFloat64())
		}
	}
}

// Sample draws a batch of the given shape (N,C,H,W) from d with the chosen
// sampler and returns x₀ as the sampler leaves it. Its range depends on the
// sampler: DDPM and DDIM clip each step's x₀ estimate to [−1, 1] (unless
// Options.NoClip), so their samples lie in [−1, 1]; DPM-Solver++(2M) and
// Euler integrate the probability-flow ODE without clipping, as diffusers'
// schedulers do, and their samples can leave [−1, 1] (far, for an
// over-trained or mis-scheduled model). Images to store go through
// ClipImages, the one place where samples are clipped for storage; the
// quality metrics of package evaluate measure them unclipped.
func Sample(d Denoiser, s *Schedule, shape []int, o Options) (*tensor.Dense, error) {
	if len(shape) != 4 || shape[0] <= 0 {
		return nil, fmt.Errorf("sample shape %v: want (N,C,H,W)", shape)
	}
	if !slices.Contains(Samplers, o.Sampler) {
		return nil, fmt.Errorf("unknown sampler %q (have %v)", o.Sampler, Samplers)
	}
	if o.Labels != nil && len(o.Labels) != shape[0] {
		return nil, fmt.Errorf("%d labels for %d samples", len(o.Labels), shape[0])
	}
	if !(o.Eta >= 0) || math.IsInf(o.Eta, 1) {
		return nil, fmt.Errorf("eta %g must be finite and not negative", o.Eta)
	}
	switch o.Variance {
	case "", "fixed_small", "fixed_large":
	default:
		return nil, fmt.Errorf("variance %q is not fixed_small or fixed_large", o.Variance)
	}
	ts, err := Timesteps(o.Sampler, o.Steps, s.T(), o.Spacing)
	if err != nil {
		return nil, err
	}
	n := shape[0]
	per := shape[1] * shape[2] * shape[3]
	r := &run{d: d, s: s, o: o, ts: ts, pred: s.Config.PredictionType, noise: newStreams(o, n, per), layers: Layers(d)}
	r.rows = make([]Row, n)
	for j := range r.rows {
		r.rows[j] = Row{Sample: o.FirstIndex + j, Label: -1}
		if o.Labels != nil {
			r.rows[j].Label = o.Labels[j]
		}
	}
	r.infos = make([]StepInfo, len(r.layers))
	for _, l := range r.layers {
		if _, ok := l.(StepEnder); ok {
			r.ends = true
		}
	}
	if o.AfterStep != nil {
		r.ends = true
	}
	if r.ends {
		r.x0 = tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	}
	r.x = tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	r.noise.fill(-1, r.x.Data().([]float32))
	switch o.Sampler {
	case "ddpm":
		err = r.ddpm()
	case "ddim":
		err = r.ddim()
	case "dpmpp2m":
		err = r.dpmpp2m()
	case "euler":
		err = r.euler()
	}
	if err != nil {
		return nil, err
	}
	return r.x, nil
}

// run is one sampling run in progress.
type run struct {
	d     Denoiser
	s     *Schedule
	o     Options
	ts    []float64
	pred  string
	noise *noiseStreams
	x     *tensor.Dense

	layers []Denoiser    // the denoiser's chain, outermost first
	rows   []Row         // the sampler's rows
	infos  []StepInfo    // this step's info as each layer saw it
	ends   bool          // some layer or AfterStep wants the step's result
	x0     *tensor.Dense // the step's x₀ estimate, when ends
}

// predict calls the step hooks and the model at step i on input in.
func (r *run) predict(i int, in *tensor.Dense) ([]float32, error) {
	info := StepInfo{Index: i, Steps: len(r.ts), T: r.ts[i], X: in, Seed: r.o.Seed, FirstIndex: r.o.FirstIndex, Rows: r.rows}
	li := info
	for k, l := range r.layers {
		r.infos[k] = li
		if st, ok := l.(Stepper); ok {
			if err := st.BeginStep(li); err != nil {
				return nil, fmt.Errorf("step %d: %w", i, err)
			}
		}
		if m, ok := l.(RowMapper); ok {
			li.Rows = m.InnerRows(li.Rows)
		}
	}
	if r.o.Hook != nil {
		if err := r.o.Hook(info); err != nil {
			return nil, fmt.Errorf("step %d hook: %w", i, err)
		}
	}
	out, err := r.d.Predict(in, r.ts[i], r.o.Labels)
	if err != nil {
		return nil, fmt.Errorf("step %d (t=%g): %w", i, r.ts[i], err)
	}
	if !out.Shape().Eq(in.Shape()) {
		return nil, fmt.Errorf("step %d: model output %v for input %v", i, out.Shape(), in.Shape())
	}
	data := out.Data().([]float32)
	for _, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("step %d (t=%g): model output holds NaN or Inf", i, r.ts[i])
		}
	}
	return data, nil
}

// endStep calls the layers' EndStep and AfterStep with the step's x₀
// estimate (r.x0) and the sampler's state.
func (r *run) endStep(i int, next *tensor.Dense) error {
	if !r.ends {
		return nil
	}
	for k, l := range r.layers {
		if st, ok := l.(StepEnder); ok {
			if err := st.EndStep(StepEnd{StepInfo: r.infos[k], Denoised: r.x0, Next: next}); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
	}
	if r.o.AfterStep != nil {
		if err := r.o.AfterStep(StepEnd{StepInfo: r.infos[0], Denoised: r.x0, Next: next}); err != nil {
			return fmt.Errorf("step %d after-step hook: %w", i, err)
		}
	}
	return nil
}

// keepX0 records element k of the step's x₀ estimate when someone listens.
func (r *run) keepX0(k int, v float64) {
	if r.x0 != nil {
		r.x0.Data().([]float32)[k] = float32(v)
	}
}

func clip(v float64) float64 { return math.Max(-1, math.Min(1, v)) }

// ddpm is ancestral sampling (Ho et al., "Denoising Diffusion Probabilistic
// Models", NeurIPS 2020) on the respaced steps, with the posterior variance
// ("fixed_small") or β ("fixed_large"), as diffusers' DDPMScheduler.
func (r *run) ddpm() error {
	x := r.x.Data().([]float32)
	z := make([]float32, len(x))
	for i, tf := range r.ts {
		out, err := r.predict(i, r.x)
		if err != nil {
			return err
		}
		t := int(tf)
		aT := r.s.AlphasCumprod[t]
		aP := 1.0
		if i+1 < len(r.ts) {
			aP = r.s.AlphasCumprod[int(r.ts[i+1])]
		}
		bT, bP := 1-aT, 1-aP
		curA := aT / aP
		curB := 1 - curA
		cx0 := math.Sqrt(aP) * curB / bT
		cxt := math.Sqrt(curA) * bP / bT
		std := 0.0
		if t > 0 {
			r.noise.fill(i, z)
			v := math.Max(bP/bT*curB, 1e-20)
			if r.o.Variance == "fixed_large" {
				v = curB
			}
			std = math.Sqrt(v)
		}
		sa, ss := math.Sqrt(aT), math.Sqrt(bT)
		for k, xv := range x {
			x0 := toX0(r.pred, float64(out[k]), float64(xv), sa, ss)
			if !r.o.NoClip {
				x0 = clip(x0)
			}
			r.keepX0(k, x0)
			x[k] = float32(cx0*x0 + cxt*float64(xv) + std*float64(z[k]))
		}
		if err := r.endStep(i, r.x); err != nil {
			return err
		}
	}
	return nil
}

// ddim is DDIM (Song, Meng & Ermon, "Denoising Diffusion Implicit Models",
// ICLR 2021), deterministic at eta 0, as diffusers' DDIMScheduler (with
// set_alpha_to_one).
func (r *run) ddim() error {
	x := r.x.Data().([]float32)
	z := make([]float32, len(x))
	T := r.s.T()
	for i, tf := range r.ts {
		out, err := r.predict(i, r.x)
		if err != nil {
			return err
		}
		t := int(tf)
		prev := t - T/len(r.ts)
		aT := r.s.AlphasCumprod[t]
		aP := 1.0
		if prev >= 0 {
			aP = r.s.AlphasCumprod[prev]
		}
		bT := 1 - aT
		variance := (1 - aP) / bT * (1 - aT/aP)
		std := r.o.Eta * math.Sqrt(variance)
		dir := math.Sqrt(math.Max(1-aP-std*std, 0))
		if r.o.Eta > 0 {
			r.noise.fill(i, z)
		}
		sa, ss := math.Sqrt(aT), math.Sqrt(bT)
		for k, xv := range x {
			x0 := toX0(r.pred, float64(out[k]), float64(xv), sa, ss)
			eps := toEps(r.pred, float64(out[k]), float64(xv), sa, ss)
			if !r.o.NoClip {
				x0 = clip(x0)
			}
			r.keepX0(k, x0)
			x[k] = float32(math.Sqrt(aP)*x0 + dir*eps + std*float64(z[k]))
		}
		if err := r.endStep(i, r.x); err != nil {
			return err
		}
	}
	return nil
}

// dpmpp2m is DPM-Solver++(2M) (Lu et al., "DPM-Solver++: Fast Solver for
// Guided Sampling of Diffusion Probabilistic Models", 2022), the multistep
// second-order data-prediction solver with the midpoint rule, first order at
// the first and the last step, as diffusers' DPMSolverMultistepScheduler
// (final_sigmas_type "zero"). It is the sampler of the Clockwork paper.
//
// Linspace spacing repeats timesteps at large step counts (999 distinct
// values among 1000); a repeated step leaves x unchanged, as in diffusers,
// and the second-order correction then uses the last distinct step instead
// of dividing by a zero step size.
func (r *run) dpmpp2m() error {
	x := r.x.Data().([]float32)
	sig := r.s.sigmasAt(r.ts)
	alphaSigma := func(s float64) (float64, float64) {
		a := 1 / math.Sqrt(s*s+1)
		return a, s * a
	}
	lambda := func(s float64) float64 {
		a, sg := alphaSigma(s)
		return math.Log(a) - math.Log(sg)
	}
	var prevX0 []float64
	var prevSig float64
	x0 := make([]float64, len(x))
	for i := range r.ts {
		out, err := r.predict(i, r.x)
		if err != nil {
			return err
		}
		a0, s0 := alphaSigma(sig[i])
		for k, xv := range x {
			x0[k] = toX0(r.pred, float64(out[k]), float64(xv), a0, s0)
			r.keepX0(k, x0[k])
		}
		aT, sT := alphaSigma(sig[i+1])
		h := lambda(sig[i+1]) - lambda(sig[i])
		c := aT * (math.Exp(-h) - 1)
		ratio := sT / s0
		last := i == len(r.ts)-1
		if h == 0 {
			if err := r.endStep(i, r.x); err != nil { // a repeated timestep
				return err
			}
			continue
		}
		if prevX0 == nil || last || prevSig == sig[i] {
			for k, xv := range x {
				x[k] = float32(ratio*float64(xv) - c*x0[k])
			}
		} else {
			r0 := (lambda(sig[i]) - lambda(prevSig)) / h
			for k, xv := range x {
				d1 := (x0[k] - prevX0[k]) / r0
				x[k] = float32(ratio*float64(xv) - c*x0[k] - 0.5*c*d1)
			}
		}
		if prevX0 == nil {
			prevX0 = make([]float64, len(x))
		}
		copy(prevX0, x0)
		prevSig = sig[i]
		if err := r.endStep(i, r.x); err != nil {
			return err
		}
	}
	return nil
}

// euler is the Euler method on the probability-flow ODE in σ-space (Karras
// et al., "Elucidating the Design Space of Diffusion-Based Generative
// Models", NeurIPS 2022), as diffusers' EulerDiscreteScheduler (no churn).
// The state is x/√ᾱ; the model sees x/√(σ²+1).
func (r *run) euler() error {
	x := r.x.Data().([]float32)
	sig := r.s.sigmasAt(r.ts)
	init := slices.Max(sig)
	if r.o.Spacing == SpacingLeading {
		init = math.Sqrt(init*init + 1)
	}
	for k := range x {
		x[k] = float32(float64(x[k]) * init)
	}
	in := tensor.New(tensor.WithShape(r.x.Shape().Clone()...), tensor.Of(tensor.Float32))
	id := in.Data().([]float32)
	for i := range r.ts {
		s := sig[i]
		scale := 1 / math.Sqrt(s*s+1)
		for k, v := range x {
			id[k] = float32(float64(v) * scale)
		}
		out, err := r.predict(i, in)
		if err != nil {
			return err
		}
		dt := sig[i+1] - s
		for k, xv := range x {
			var x0 float64
			o := float64(out[k])
			switch r.pred {
			case PredictEpsilon:
				x0 = float64(xv) - s*o
			case PredictV:
				x0 = o*(-s*scale) + float64(xv)/(s*s+1)
			default:
				x0 = o
			}
			r.keepX0(k, x0)
			x[k] = float32(float64(xv) + (float64(xv)-x0)/s*dt)
		}
		if err := r.endStep(i, r.x); err != nil {
			return err
		}
	}
	return nil
}

// ClipImages clips samples to [−1, 1] in place, as images are stored (the
// sample command's .npz and PNG files): the one documented place where the
// samples of DPM-Solver++ and Euler, which can leave that range, are made
// images. It returns x.
func ClipImages(x []float32) []float32 {
	for i, v := range x {
		x[i] = max(-1, min(1, v))
	}
	return x
}

// SampleMemory estimates, as a lower bound, the bytes SampleMany takes to
// draw n samples of shape chw in batches of batch from a model of config mc
// (guided: with classifier-free guidance, which doubles the model's batch):
// the model's forward passes, the sampler's state and the n samples it
// returns.
func SampleMemory(mc unet.Config, n, batch int, chw []int, guided bool) (float64, error) {
	if len(chw) != 3 {
		return 0, fmt.Errorf("sample shape %v: want (C,H,W)", chw)
	}
	b := min(batch, n)
	if guided {
		b *= 2
	}
	fwd, err := mc.ForwardMemory(b, chw[1], chw[2])
	if err != nil {
		return 0, err
	}
	per := 4 * float64(chw[0]) * float64(chw[1]) * float64(chw[2])
	return fwd + 3*float64(b)*per + float64(n)*(per+8), nil
}

// SampleMany draws n samples of shape (C,H,W) in batches of at most batch,
// sample j with noise stream FirstIndex+j (so the result does not depend on
// the batch size) and label labels[j] (labels nil for unconditional
// models). progress, when set, is called after each batch with the number of
// samples done.
func SampleMany(d Denoiser, s *Schedule, chw []int, n, batch int, labels []int64, o Options, progress func(done int)) (*tensor.Dense, error) {
	if len(chw) != 3 {
		return nil, fmt.Errorf("sample shape %v: want (C,H,W)", chw)
	}
	if n <= 0 || batch <= 0 {
		return nil, fmt.Errorf("want a positive number of samples and batch size, got %d and %d", n, batch)
	}
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("%d labels for %d samples", len(labels), n)
	}
	per := chw[0] * chw[1] * chw[2]
	out := tensor.New(tensor.WithShape(n, chw[0], chw[1], chw[2]), tensor.Of(tensor.Float32))
	od := out.Data().([]float32)
	first := o.FirstIndex
	for i := 0; i < n; i += batch {
		b := min(batch, n-i)
		oo := o
		oo.FirstIndex = first + i
		if labels != nil {
			oo.Labels = labels[i : i+b]
		}
		x, err := Sample(d, s, []int{b, chw[0], chw[1], chw[2]}, oo)
		if err != nil {
			return nil, fmt.Errorf("samples %d–%d: %w", i, i+b-1, err)
		}
		copy(od[i*per:], x.Data().([]float32))
		if progress != nil {
			progress(i + b)
		}
	}
	return out, nil
}
