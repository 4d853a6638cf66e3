package diffusion

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/unet"
)

// Options configure a sampling run.
type Options struct {
	Sampler string // a registered sampler (SamplerNames)
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
	// Indices, when set, are the samples' indices in the seed's sequence
	// row by row (one per row), in place of FirstIndex, FirstIndex+1, …:
	// the anchors of a video, say, which are not consecutive frames.
	Indices []int

	// Init and Strength start the run from images instead of pure noise,
	// as diffusers' image-to-image pipelines do (SDEdit: Meng et al.,
	// "SDEdit: Guided Image Synthesis and Editing with Stochastic
	// Differential Equations", ICLR 2022): of the sampler's Steps steps it
	// runs the last int(Steps·Strength), from Init (one image per row, in
	// the layout of X) noised to the first of them with the row's noise
	// stream, √ᾱ·x₀ + √(1−ᾱ)·ε. Strength 0 means 1 (every step, the image
	// noised to the first timestep); below 1 it needs Init. Strength
	// lowers the model evaluations of a run (StepsFrom).
	Init     []float32
	Strength float64

	// Cond is the samples' conditioning, one row per sample (the zero Cond
	// for an unconditional model).
	Cond Cond

	// Hook, when set, is called at every model evaluation before the
	// model, after the denoisers' BeginStep; AfterStep after the step's
	// update, after their EndStep. Both see the sampler's rows.
	Hook      func(StepInfo) error
	AfterStep func(StepEnd) error

	noise func(step, sample int, dst []float32) // tests: replaces the streams
}

// Sample draws a batch of the given shape (N,C,H,W) from d with the chosen
// sampler and returns x₀ as the sampler leaves it. Its range depends on the
// sampler: DDPM and DDIM clip each step's x₀ estimate to [−1, 1] (unless
// Options.NoClip), so their samples lie in [−1, 1]; DPM-Solver++(2M) and
// Euler integrate the probability-flow ODE without clipping, as diffusers'
// schedulers do, and their samples can leave that range (far, for an
// over-trained or mis-scheduled model). ClipImages makes them images, for
// storage and for every measure of the toolkit.
func Sample(d Denoiser, s *Schedule, shape []int, o Options) (*tensor.Dense, error) {
	if len(shape) != 4 || shape[0] <= 0 {
		return nil, fmt.Errorf("sample shape %v: want (N,C,H,W)", shape)
	}
	smp, err := LookupSampler(o.Sampler)
	if err != nil {
		return nil, err
	}
	o = o.under(s.Config.SamplerConfig, smp)
	n := shape[0]
	if o.Indices != nil && len(o.Indices) != n {
		return nil, fmt.Errorf("%d sample indices for a batch of %d", len(o.Indices), n)
	}
	if err := o.Cond.Check(n); err != nil {
		return nil, fmt.Errorf("conditioning of %d samples: %w", n, err)
	}
	if o.Indices != nil && len(o.Indices) != n {
		return nil, fmt.Errorf("%d sample indices for %d samples", len(o.Indices), n)
	}
	if !(o.Eta >= 0) || math.IsInf(o.Eta, 1) {
		return nil, fmt.Errorf("eta %g must be finite and not negative", o.Eta)
	}
	switch o.Variance {
	case "", "fixed_small", "fixed_large":
	default:
		return nil, fmt.Errorf("variance %q is not fixed_small or fixed_large", o.Variance)
	}
	per := shape[1] * shape[2] * shape[3]
	start, err := o.start(n * per)
	if err != nil {
		return nil, err
	}
	ts, sig, err := s.steps(smp, o)
	if err != nil {
		return nil, err
	}
	ts = ts[start:]
	if sig != nil {
		sig = sig[start:]
	}
	r := &Run{Schedule: s, Timesteps: ts, Options: o, sigmas: sig, d: d, pred: s.Config.PredictionType,
		noise: newStreams(o, n, per), layers: Layers(d), evals: smp.evals(len(ts))}
	r.rows = make([]Row, n)
	for j := range r.rows {
		r.rows[j] = Row{Sample: o.sampleIndex(j)}
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
	r.p.X0 = make([]float64, n*per)
	r.p.eps = make([]float64, n*per)
	r.X = tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	r.Noise(-1, r.X.Data().([]float32))
	if o.Init != nil {
		// The images noised to the first step, in the variance-preserving
		// form every sampler starts from (FromImages).
		sg := r.Sigmas()[0]
		a := 1 / math.Sqrt(sg*sg+1)
		x := r.X.Data().([]float32)
		for k, e := range x {
			x[k] = float32(a*float64(o.Init[k]) + sg*a*float64(e))
		}
	}
	if err := smp.Sample(r); err != nil {
		return nil, err
	}
	switch {
	case r.open:
		return nil, fmt.Errorf("sampler %s returned with model evaluation %d not ended (Run.EndStep)", smp.Name, r.done)
	case r.done != r.evals:
		return nil, fmt.Errorf("sampler %s made %d of the %d model evaluations it declares for %d steps", smp.Name, r.done, r.evals, len(ts))
	}
	return r.X, nil
}

// StepsFrom returns how many of a run's steps Options.Strength keeps:
// int(steps·strength), as diffusers' image-to-image pipelines count them
// (all of them for strength 0 or 1). A strength outside [0, 1], or one
// that keeps no step, is an error.
func StepsFrom(steps int, strength float64) (int, error) {
	if !(strength >= 0 && strength <= 1) {
		return 0, fmt.Errorf("strength %g: want a number in (0, 1] (0: every step)", strength)
	}
	if strength == 0 || strength == 1 {
		return steps, nil
	}
	k := int(float64(steps) * strength)
	if k < 1 {
		return 0, fmt.Errorf("strength %g of %d steps keeps no step: want at least 1/%d", strength, steps, steps)
	}
	return k, nil
}

// start checks Init (size values) and Strength and returns the index of
// the first step the run keeps.
func (o Options) start(size int) (int, error) {
	k, err := StepsFrom(o.Steps, o.Strength)
	if err != nil {
		return 0, err
	}
	if o.Init == nil {
		if k != o.Steps {
			return 0, fmt.Errorf("strength %g: starting part-way needs images to start from (Init)", o.Strength)
		}
		return 0, nil
	}
	if len(o.Init) != size {
		return 0, fmt.Errorf("%d values of images to start from for a batch of %d values", len(o.Init), size)
	}
	for k, v := range o.Init {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("the images to start from: value %d is %v", k, v)
		}
	}
	return o.Steps - k, nil
}

// ClipImages clips samples to [−1, 1] in place and returns x: where
// samples become images. The toolkit stores and measures images (the
// sample command's files, every FID, KID, accuracy, L2 and PSNR), like
// diffusers' pipelines, which clamp their outputs; the samples of
// DPM-Solver++ and Euler can leave that range.
func ClipImages(x []float32) []float32 {
	for i, v := range x {
		x[i] = max(-1, min(1, v))
	}
	return x
}

// SampleMemory estimates, as a lower bound, the bytes SampleMany takes to
// draw n samples of shape chw in batches of batch from a model of config mc
// under guidance of the given branches (1: none; guidance stacks them in
// the model's batch): the model's forward passes, the sampler's state and
// the n samples it returns.
func SampleMemory(mc unet.Config, n, batch int, chw []int, branches int) (float64, error) {
	if len(chw) != 3 {
		return 0, fmt.Errorf("sample shape %v: want (C,H,W)", chw)
	}
	b := min(batch, n) * max(branches, 1)
	fwd, err := mc.ForwardMemory(b, chw[1], chw[2])
	if err != nil {
		return 0, err
	}
	per := 4 * float64(chw[0]) * float64(chw[1]) * float64(chw[2])
	return fwd + 3*float64(b)*per + 16*float64(min(batch, n))*per/4 + float64(n)*(per+8), nil
}

// sampleIndex returns the index in the seed's sequence of row j.
func (o Options) sampleIndex(j int) int {
	if o.Indices != nil {
		return o.Indices[j]
	}
	return o.FirstIndex + j
}

// SampleMany draws n samples of shape (C,H,W) in batches of at most batch,
// sample j with noise stream FirstIndex+j and conditioning row j of o.Cond
// (so the result does not depend on the batch size). progress, when set,
// is called after each batch with the number of samples done.
func SampleMany(d Denoiser, s *Schedule, chw []int, n, batch int, o Options, progress func(done int)) (*tensor.Dense, error) {
	if len(chw) != 3 {
		return nil, fmt.Errorf("sample shape %v: want (C,H,W)", chw)
	}
	if n <= 0 || batch <= 0 {
		return nil, fmt.Errorf("want a positive number of samples and batch size, got %d and %d", n, batch)
	}
	if err := o.Cond.Check(n); err != nil {
		return nil, fmt.Errorf("conditioning of %d samples: %w", n, err)
	}
	if o.Indices != nil && len(o.Indices) != n {
		return nil, fmt.Errorf("%d sample indices for %d samples", len(o.Indices), n)
	}
	if o.Init != nil && len(o.Init) != n*chw[0]*chw[1]*chw[2] {
		return nil, fmt.Errorf("%d values of images to start from for %d samples of %v", len(o.Init), n, chw)
	}
	all := o.Cond
	cond := !all.IsZero()
	per := chw[0] * chw[1] * chw[2]
	out := tensor.New(tensor.WithShape(n, chw[0], chw[1], chw[2]), tensor.Of(tensor.Float32))
	od := out.Data().([]float32)
	first := o.FirstIndex
	for i := 0; i < n; i += batch {
		b := min(batch, n-i)
		oo := o
		oo.FirstIndex = first + i
		if o.Init != nil {
			oo.Init = o.Init[i*per : (i+b)*per]
		}
		if o.Indices != nil {
			oo.Indices = o.Indices[i : i+b]
		}
		if cond {
			oo.Cond = all.Slice(i, i+b)
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
