package evaluate

import (
	"fmt"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
)

// Method is a way of drawing samples, as an evaluation measures it: a
// denoiser (with its guidance, adaptor or perturbation already wrapped in)
// and the sampler it runs under.
type Method struct {
	// Name says what the method is; it is copied into reports.
	Name     string
	Denoiser diffusion.Denoiser
	// Sampler, Steps, Spacing and Eta are the sampler's
	// (diffusion.Options).
	Sampler string
	Steps   int
	Spacing string
	Eta     float64
}

// Setup is what every method of an evaluation shares: the noise schedule,
// the sample shape, the samples' noise (sample j from noise stream j of
// Seed) and conditioning, so that two methods draw each sample from the
// same noise and conditioning.
type Setup struct {
	Noise *diffusion.Schedule
	// Shape is a sample's (C, H, W): the model's (unet.Config.SampleShape),
	// never a constant.
	Shape []int
	// N samples are drawn in batches of Batch (the samples do not depend
	// on the batch size).
	N, Batch int
	Seed     uint64
	// Cond is the samples' conditioning, N rows (the zero Cond for an
	// unconditional model).
	Cond diffusion.Cond
	// Prompts are the samples' prompts for a text-conditioned model (N,
	// the captions whose embeddings Cond holds), nil otherwise: Measure
	// judges the samples' adherence to them (captions.Judge).
	Prompts []string
	// TextGFLOPs is the text encoder's cost per sample, counted once per
	// distinct prompt (the empty one of guidance included) and spread over
	// the samples; Measure adds it to every method's cost.
	TextGFLOPs float64
	// Progress, when set, is called after each batch with the samples done.
	Progress func(done, total int)
}

// Validate reports a setup no method can be drawn with.
func (s Setup) Validate() error {
	if s.Noise == nil {
		return fmt.Errorf("evaluation: no noise schedule")
	}
	if len(s.Shape) != 3 {
		return fmt.Errorf("evaluation: sample shape %v, want (C, H, W)", s.Shape)
	}
	if s.N < 1 || s.Batch < 1 {
		return fmt.Errorf("evaluation: want a positive number of samples and batch size, got %d and %d", s.N, s.Batch)
	}
	if err := s.Cond.Check(s.N); err != nil {
		return fmt.Errorf("evaluation: conditioning of %d samples: %w", s.N, err)
	}
	if s.Prompts != nil && len(s.Prompts) != s.N {
		return fmt.Errorf("evaluation: %d prompts for %d samples", len(s.Prompts), s.N)
	}
	return nil
}

// First returns the setup of the first n samples.
func (s Setup) First(n int) Setup {
	n = min(n, s.N)
	if !s.Cond.IsZero() {
		s.Cond = s.Cond.Slice(0, n)
	}
	if s.Prompts != nil {
		s.Prompts = s.Prompts[:n]
	}
	s.N, s.Batch = n, min(s.Batch, n)
	return s
}

// per returns the values per sample.
func (s Setup) per() int { return s.Shape[0] * s.Shape[1] * s.Shape[2] }

// Drawn are a method's samples and what drawing them cost.
type Drawn struct {
	// X holds the N samples as images, N·C·H·W values clipped to [−1, 1]
	// (diffusion.ClipImages): every figure of the toolkit is measured on
	// what a user stores and sees, never on the sampler's raw output.
	X []float32
	// GFLOPs is the method's cost per sample, counted by its denoiser
	// chain (diffusion.FLOPCounter).
	GFLOPs float64
	// Ms is the wall time per sample of the batches after the first
	// (which also compiles the graphs for its shape), of all of them when
	// there is one.
	Ms float64
}

// Draw draws s.N samples with m. A denoiser chain without a FLOP counter is
// an error: every method of the toolkit says what it spends.
func Draw(m Method, s Setup) (Drawn, error) {
	if err := s.Validate(); err != nil {
		return Drawn{}, err
	}
	if m.Denoiser == nil {
		return Drawn{}, fmt.Errorf("%s: no denoiser", m.Name)
	}
	before, counted := diffusion.CountedFLOPs(m.Denoiser)
	if !counted {
		return Drawn{}, fmt.Errorf("%s: the denoiser counts no FLOPs (diffusion.FLOPCounter)", m.Name)
	}
	start := time.Now()
	timedFrom, timedN := start, s.N
	done := func(n int) {
		if n == min(s.Batch, s.N) && n < s.N {
			timedFrom, timedN = time.Now(), s.N-n
		}
		if s.Progress != nil {
			s.Progress(n, s.N)
		}
	}
	x, err := diffusion.SampleMany(m.Denoiser, s.Noise, s.Shape, s.N, s.Batch, m.options(s), done)
	if err != nil {
		return Drawn{}, fmt.Errorf("%s: %w", m.Name, err)
	}
	elapsed := time.Since(timedFrom)
	after, _ := diffusion.CountedFLOPs(m.Denoiser)
	return Drawn{
		X:      diffusion.ClipImages(x.Data().([]float32)),
		GFLOPs: float64(after-before) / float64(s.N) / 1e9,
		Ms:     float64(elapsed.Microseconds()) / 1e3 / float64(timedN),
	}, nil
}

// options returns the sampling options of m under s.
func (m Method) options(s Setup) diffusion.Options {
	return diffusion.Options{Sampler: m.Sampler, Steps: m.Steps, Spacing: m.Spacing, Eta: m.Eta, Seed: s.Seed, Cond: s.Cond}
}
