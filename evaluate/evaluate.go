package evaluate

import (
	"fmt"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/unet"
)

// Options describe a sampling evaluation.
type Options struct {
	// Name says what is evaluated (a model directory, a method); it is
	// copied into the report.
	Name string
	// Sampler, Steps, Spacing and Eta are the sampler's (diffusion.Options).
	Sampler string
	Steps   int
	Spacing string
	Eta     float64
	// N samples are drawn in batches of Batch, sample j from noise stream
	// j of Seed (so the samples do not depend on the batch size).
	N, Batch int
	Seed     uint64
	// Labels are the samples' classes (N of them), or nil for an
	// unconditional model. LabelsFor gives the toolkit's default.
	Labels []int64
	// Guidance is reported only; the denoiser applies it (diffusion.Guide).
	Guidance float64
	// Quality tunes the measures.
	Quality metrics.QualityOptions
	// FLOPsPerSample, when positive, is the method's cost per sample;
	// otherwise it is counted by the denoiser chain (diffusion.FLOPCounter),
	// and a chain without a counter is an error.
	FLOPsPerSample float64
	// Progress, when set, is called after each batch with the samples done.
	Progress func(done, total int)
}

// Report is what an evaluation measured.
type Report struct {
	Model     string  `json:"model"`
	Sampler   string  `json:"sampler,omitempty"`
	Steps     int     `json:"steps,omitempty"`
	Guidance  float64 `json:"guidance,omitempty"`
	N         int     `json:"n"`
	Seed      uint64  `json:"seed"`
	Reference string  `json:"reference"`
	metrics.Quality
	// GFLOPsPerSample is the method's cost per sample (counted or given);
	// MsPerSample the wall time per sample of the batches after the first
	// (which also compiles the graphs) when there are several.
	GFLOPsPerSample float64 `json:"gflops_per_sample,omitempty"`
	MsPerSample     float64 `json:"ms_per_sample,omitempty"`
}

// Samples are the images an evaluation drew: N·32·32 values and their labels
// (nil when unconditional).
type Samples struct {
	X      []float32
	Labels []int64
	N      int
}

// LabelsFor returns the default labels of n samples for a model with
// num_class_embeds k: the digits in turn (0, 1, …, 9, 0, …) for a
// class-conditional model, nil for an unconditional one.
func LabelsFor(n, k int) ([]int64, error) {
	spec := ""
	if k > 0 {
		spec = "cycle"
	}
	return diffusion.ParseLabels(spec, n, k)
}

// Run draws o.N 1×32×32 samples from d with schedule s and measures them
// as the sampler leaves them: unclipped (DPM-Solver++ and Euler can leave
// [−1, 1]; diffusion.ClipImages is for stored images), as every figure of
// the toolkit has been measured.
func Run(c *metrics.Classifier, d diffusion.Denoiser, s *diffusion.Schedule, o Options) (Report, Samples, error) {
	if o.N < 2 || o.Batch < 1 {
		return Report{}, Samples{}, fmt.Errorf("want at least 2 samples and a positive batch, got %d and %d", o.N, o.Batch)
	}
	if o.Labels != nil && len(o.Labels) != o.N {
		return Report{}, Samples{}, fmt.Errorf("%d labels for %d samples", len(o.Labels), o.N)
	}
	before, counted := diffusion.CountedFLOPs(d)
	if o.FLOPsPerSample <= 0 && !counted {
		return Report{}, Samples{}, fmt.Errorf("%s: the denoiser counts no FLOPs (diffusion.FLOPCounter); give Options.FLOPsPerSample", o.Name)
	}
	// Wall time counts from the end of the first batch, which also compiles
	// the graphs for its shape, when there are more batches.
	start := time.Now()
	timedFrom, timedN := start, o.N
	done := func(n int) {
		if n == min(o.Batch, o.N) && n < o.N {
			timedFrom, timedN = time.Now(), o.N-n
		}
		if o.Progress != nil {
			o.Progress(n, o.N)
		}
	}
	x, err := diffusion.SampleMany(d, s, []int{1, 32, 32}, o.N, o.Batch, o.Labels, diffusion.Options{
		Sampler: o.Sampler, Steps: o.Steps, Spacing: o.Spacing, Eta: o.Eta, Seed: o.Seed}, done)
	if err != nil {
		return Report{}, Samples{}, err
	}
	elapsed := time.Since(timedFrom)
	flops := o.FLOPsPerSample
	if flops <= 0 {
		after, _ := diffusion.CountedFLOPs(d)
		flops = float64(after-before) / float64(o.N)
	}
	xs := x.Data().([]float32)
	q, err := metrics.MeasureQuality(c, xs, o.N, o.Labels, o.Quality)
	if err != nil {
		return Report{}, Samples{}, err
	}
	ref := o.Quality.Reference
	if ref == "" {
		ref = "test"
	}
	return Report{
		Model: o.Name, Sampler: o.Sampler, Steps: o.Steps, Guidance: o.Guidance, N: o.N, Seed: o.Seed,
		Reference: "mnist-" + ref, Quality: q,
		GFLOPsPerSample: flops / 1e9,
		MsPerSample:     float64(elapsed.Microseconds()) / 1e3 / float64(timedN),
	}, Samples{X: xs, Labels: o.Labels, N: o.N}, nil
}

// Model evaluates a model directory (diffusion.LoadModel) with classifier-free
// guidance of scale guidance (1: none) and labels cycling through the
// digits; o.Name defaults to the directory.
func Model(c *metrics.Classifier, dir string, guidance float64, o Options) (Report, Samples, error) {
	m, s, err := diffusion.LoadModel(dir)
	if err != nil {
		return Report{}, Samples{}, err
	}
	if err := CheckMNIST(m.Config); err != nil {
		return Report{}, Samples{}, fmt.Errorf("%s: %w", dir, err)
	}
	k := m.Config.NumClasses()
	if o.Labels, err = LabelsFor(o.N, k); err != nil {
		return Report{}, Samples{}, err
	}
	d, err := diffusion.Guide(&diffusion.ModelDenoiser{Model: m}, k, guidance)
	if err != nil {
		return Report{}, Samples{}, err
	}
	if o.Name == "" {
		o.Name = dir
	}
	o.Guidance = guidance
	return Run(c, d, s, o)
}

// CheckMNIST reports, as an error, a model whose samples the MNIST metrics
// cannot take (they take one channel of 32×32).
func CheckMNIST(c unet.Config) error {
	if c.InChannels != 1 {
		return fmt.Errorf("%d input channels; the MNIST metrics take 1", c.InChannels)
	}
	if h, w, err := c.SampleHW(); err != nil || h != 32 || w != 32 {
		return fmt.Errorf("sample_size %v; the MNIST metrics take 32×32 images", c.SampleSize)
	}
	return nil
}
