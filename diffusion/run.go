package diffusion

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Run is one sampling run of a batch as a sampler sees it: the noise
// schedule, the timesteps, the options, the state X, per-sample noise, and
// the denoiser behind the step protocol (Denoise, then EndStep, once per
// model evaluation).
type Run struct {
	// Schedule is the noise schedule the model was trained with.
	Schedule *Schedule
	// Timesteps are the descending timesteps of the run's steps.
	Timesteps []float64
	// Options are the run's options (a sampler reads its own settings,
	// Eta or Variance, from them).
	Options Options
	// X is the state: unit Gaussian noise, from each sample's own stream,
	// when Sample starts (or images noised to the first timestep:
	// FromImages); x₀ when it returns.
	X *tensor.Dense

	sigmas []float64 // σ of every step and the final one
	d      Denoiser
	pred   string
	layers []Denoiser // the denoiser's chain, outermost first
	rows   []Row      // the sampler's rows
	infos  []StepInfo // this evaluation's info as each layer saw it
	ends   bool       // some layer or AfterStep wants the step's result
	x0     *tensor.Dense
	noise  *noiseStreams
	evals  int  // model evaluations the sampler declares
	done   int  // evaluations begun
	open   bool // an evaluation began and has not ended
	p      Prediction
	in     *tensor.Dense // the model input of σ-space states
}

// Steps returns the number of steps of the run.
func (r *Run) Steps() int { return len(r.Timesteps) }

// FromImages reports whether the run starts from images (Options.Init):
// X then holds them noised to the first timestep, √ᾱ·x₀ + √(1−ᾱ)·ε, the
// variance-preserving state, where otherwise it holds unit noise. A
// sampler that scales the initial noise into another space (Euler's σ
// space) converts this state instead.
func (r *Run) FromImages() bool { return r.Options.Init != nil }

// Sigmas returns σ(t) = √((1−ᾱ)/ᾱ) at each timestep, as diffusers' Euler and
// DPM-Solver schedulers compute it (interpolated, rounded to float32;
// Karras et al.'s levels under the schedule's UseKarrasSigmas), followed
// by the final σ: 0, or σ(0) under FinalSigmasType "sigma_min".
func (r *Run) Sigmas() []float64 {
	if r.sigmas == nil {
		r.sigmas, _ = r.Schedule.sigmasFor(r.Timesteps, karrasNone)
	}
	return r.sigmas
}

// Noise writes the next Gaussian noise of every sample into dst (N·per
// values, the layout of X): each sample draws from its own stream (seed,
// sample index), so a sample's noise does not depend on its batch. step
// names the draw for tests that replace the streams.
func (r *Run) Noise(step int, dst []float32) { r.noise.fill(step, dst) }

// Denoise begins the run's next model evaluation at timestep t on the
// state x with scaling sc: it calls BeginStep on every layer of the
// denoiser chain that has it (Stepper), the options' Hook, then the
// denoiser, checks its output (shape, NaN, Inf), and returns it converted
// to the x₀ estimate for x. A second Denoise before EndStep, and more
// evaluations than the sampler declares, are errors.
func (r *Run) Denoise(x *tensor.Dense, t float64, sc Scaling) (*Prediction, error) {
	i := r.done
	if r.open {
		return nil, fmt.Errorf("model evaluation %d began before evaluation %d ended (Run.EndStep)", i+1, i)
	}
	if i >= r.evals {
		return nil, fmt.Errorf("sampler %s: model evaluation %d beyond the %d it declares for %d steps", r.Options.Sampler, i+1, r.evals, r.Steps())
	}
	in := x
	if sc.Karras {
		if r.in == nil {
			r.in = tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32))
		}
		scale := sc.inputScale()
		id := r.in.Data().([]float32)
		for k, v := range x.Data().([]float32) {
			id[k] = float32(float64(v) * scale)
		}
		in = r.in
	}
	info := StepInfo{Index: i, Steps: r.evals, T: t, X: in, Seed: r.Options.Seed, FirstIndex: r.Options.FirstIndex, Rows: r.rows, Cond: r.Options.Cond}
	li := info
	for k, l := range r.layers {
		r.infos[k] = li
		if st, ok := l.(Stepper); ok {
			if err := st.BeginStep(li); err != nil {
				return nil, fmt.Errorf("step %d: %w", i, err)
			}
		}
		if m, ok := l.(RowMapper); ok {
			var err error
			if li.Rows, li.Cond, err = m.InnerRows(li.Rows, li.Cond); err != nil {
				return nil, fmt.Errorf("step %d: %w", i, err)
			}
		}
	}
	r.done++
	r.open = true
	if r.Options.Hook != nil {
		if err := r.Options.Hook(info); err != nil {
			return nil, fmt.Errorf("step %d hook: %w", i, err)
		}
	}
	out, err := r.d.Predict(in, t, r.Options.Cond)
	if err != nil {
		return nil, fmt.Errorf("step %d (t=%g): %w", i, t, err)
	}
	if !out.Shape().Eq(in.Shape()) {
		return nil, fmt.Errorf("step %d: model output %v for input %v", i, out.Shape(), in.Shape())
	}
	data := out.Data().([]float32)
	for _, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("step %d (t=%g): model output holds NaN or Inf", i, t)
		}
	}
	r.p.convert(r.pred, data, x.Data().([]float32), sc)
	return &r.p, nil
}

// EndStep ends the current model evaluation: x0 is its x₀ estimate as the
// sampler used it (after any clipping) and next the sampler's state after
// it. It calls EndStep on every layer that has it (StepEnder), outermost
// first, then the options' AfterStep.
func (r *Run) EndStep(x0 []float64, next *tensor.Dense) error {
	i := r.done - 1
	if !r.open {
		return fmt.Errorf("sampler %s: EndStep without a model evaluation (Run.Denoise)", r.Options.Sampler)
	}
	r.open = false
	if !r.ends {
		return nil
	}
	xd := r.x0.Data().([]float32)
	if len(x0) != len(xd) {
		return fmt.Errorf("step %d: an x₀ estimate of %d values for a state of %d", i, len(x0), len(xd))
	}
	for k, v := range x0 {
		xd[k] = float32(v)
	}
	for k, l := range r.layers {
		if st, ok := l.(StepEnder); ok {
			if err := st.EndStep(StepEnd{StepInfo: r.infos[k], Denoised: r.x0, Next: next}); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
	}
	if r.Options.AfterStep != nil {
		if err := r.Options.AfterStep(StepEnd{StepInfo: r.infos[0], Denoised: r.x0, Next: next}); err != nil {
			return fmt.Errorf("step %d after-step hook: %w", i, err)
		}
	}
	return nil
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
		ns.rngs = append(ns.rngs, rand.New(rand.NewPCG(o.Seed, uint64(o.sampleIndex(j)))))
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
