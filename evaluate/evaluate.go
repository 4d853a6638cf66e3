package evaluate

import (
	"fmt"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/unet"
)

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
	// GFLOPsPerSample is the method's cost per sample as counted (the
	// text encoder's share, TextGFLOPsPerSample, included); MsPerSample
	// the wall time per sample (Drawn.Ms).
	GFLOPsPerSample     float64 `json:"gflops_per_sample,omitempty"`
	TextGFLOPsPerSample float64 `json:"text_encoder_gflops_per_sample,omitempty"`
	MsPerSample         float64 `json:"ms_per_sample,omitempty"`
	// Prompts is the samples' prompt adherence beside real images', for a
	// text-conditioned model.
	Prompts *captions.Judgement `json:"prompt_adherence,omitempty"`
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

// Run draws s.N samples with m and measures them (Measure): FID-MNIST,
// KID and class accuracy against the setup's labels, the FLOPs and wall
// time per sample. guidance is reported only (the denoiser applies it).
func Run(c *metrics.Classifier, m Method, s Setup, guidance float64, q metrics.QualityOptions) (Report, Drawn, error) {
	d, err := Draw(m, s)
	if err != nil {
		return Report{}, Drawn{}, err
	}
	rep, err := Measure(c, m, s, d, q)
	rep.Guidance = guidance
	return rep, d, err
}

// Measure reports the quality of drawn samples of m (images: Draw clips
// them to [−1, 1]).
func Measure(c *metrics.Classifier, m Method, s Setup, d Drawn, q metrics.QualityOptions) (Report, error) {
	if err := CheckMNISTShape(s.Shape); err != nil {
		return Report{}, fmt.Errorf("%s: %w", m.Name, err)
	}
	if s.Prompts != nil && q.Data == "" {
		q.Data = captions.DataKind // the images the prompts describe
	}
	qual, err := metrics.MeasureQuality(c, d.X, s.N, s.Cond.Labels, q)
	if err != nil {
		return Report{}, err
	}
	ref, data := q.Reference, q.Data
	if ref == "" {
		ref = "test"
	}
	if data == "" {
		data = "mnist"
	}
	r := Report{Model: m.Name, Sampler: m.Sampler, Steps: m.Steps, N: s.N, Seed: s.Seed,
		Reference: data + "-" + ref, Quality: qual, GFLOPsPerSample: d.GFLOPs + s.TextGFLOPs, TextGFLOPsPerSample: s.TextGFLOPs, MsPerSample: d.Ms}
	if s.Prompts != nil {
		reps := q.Bootstrap
		if reps == 0 {
			reps = 100
		}
		j, err := captions.Judge(d.X, s.Prompts, ref, reps, q.Seed)
		if err != nil {
			return Report{}, fmt.Errorf("%s: %w", m.Name, err)
		}
		r.Prompts = &j
	}
	return r, nil
}

// CheckMNIST reports, as an error, a model whose samples the MNIST metrics
// cannot take (they take one channel of 32×32).
func CheckMNIST(c unet.Config) error {
	shape, err := c.SampleShape()
	if err != nil {
		return err
	}
	return CheckMNISTShape(shape)
}

// CheckMNISTShape reports a sample shape other than the MNIST metrics'
// 1×32×32.
func CheckMNISTShape(shape []int) error {
	if len(shape) != 3 || shape[0] != 1 || shape[1] != 32 || shape[2] != 32 {
		return fmt.Errorf("samples of %v; the MNIST metrics take 1×32×32 images", shape)
	}
	return nil
}
