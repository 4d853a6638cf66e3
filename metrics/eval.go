package metrics

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/npzio"
)

// ReferenceFeatures returns the classifier features of an MNIST split
// ("train" or "test"), cached under the user cache directory (keyed by the
// classifier's weights) so that later evaluations skip the computation.
func ReferenceFeatures(c *Classifier, split string) (Features, error) {
	h := sha256.New()
	for _, n := range c.Params.Names() {
		for _, v := range c.Params.Data(n) {
			b := math.Float32bits(v)
			h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
		}
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	var cache string
	if dir, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(dir, "clockwork", fmt.Sprintf("mnist-%s-features-%s.npz", split, key))
		if a, err := npzio.Read(cache); err == nil {
			if f, ok := a["features"]; ok && f.F32 != nil && len(f.Shape) == 2 {
				return Features{N: f.Shape[0], Dim: f.Shape[1], X: f.F32}, nil
			}
		}
	}
	d, err := datasets.MNIST(split, "", true)
	if err != nil {
		return Features{}, err
	}
	x := make([]float32, d.Len()*32*32)
	idx := make([]int, d.Len())
	for i := range idx {
		idx[i] = i
	}
	d.Batch(idx, x, nil)
	feat, _, err := c.Features(x, d.Len(), 500)
	if err != nil {
		return Features{}, err
	}
	f := Features{N: d.Len(), Dim: FeatureDim, X: feat}
	if cache != "" {
		// The cache only saves time: failing to write it is not an error.
		if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
			_ = npzio.Write(cache, []string{"features"}, map[string]npzio.Array{"features": npzio.Float32(feat, f.N, f.Dim)})
		}
	}
	return f, nil
}

// Quality holds the quality measures of a set of 32×32 MNIST-like images.
type Quality struct {
	FID      Interval  `json:"fid_mnist"`
	KID      Interval  `json:"kid"`
	Accuracy *Interval `json:"class_accuracy,omitempty"`
}

// QualityOptions tune the quality measures.
type QualityOptions struct {
	Reference  string // MNIST split the images are compared with ("test" or "train")
	KIDSubsets int    // default 50
	KIDSize    int    // default 1000
	Bootstrap  int    // bootstrap resamples for the FID and accuracy intervals; default 100
	Seed       uint64
}

// MeasureQuality computes FID-MNIST and KID of n images x (n·32·32 values in
// [−1, 1]) against an MNIST split, and, when labels is not nil, the
// fraction the classifier recognises as their label. FID and accuracy carry
// bootstrap 95% intervals over the images; KID's interval is the mean over
// subsets ± 1.96 standard errors.
func MeasureQuality(c *Classifier, x []float32, n int, labels []int64, o QualityOptions) (Quality, error) {
	if o.Reference == "" {
		o.Reference = "test"
	}
	if o.KIDSubsets == 0 {
		o.KIDSubsets = 50
	}
	if o.KIDSize == 0 {
		o.KIDSize = 1000
	}
	if o.Bootstrap == 0 {
		o.Bootstrap = 100
	}
	if n < 2 {
		return Quality{}, fmt.Errorf("quality needs at least 2 images, have %d", n)
	}
	ref, err := ReferenceFeatures(c, o.Reference)
	if err != nil {
		return Quality{}, err
	}
	refStats, err := ComputeStats(ref)
	if err != nil {
		return Quality{}, err
	}
	feat, logits, err := c.Features(x, n, 500)
	if err != nil {
		return Quality{}, err
	}
	f := Features{N: n, Dim: FeatureDim, X: feat}
	var q Quality
	q.FID, err = Bootstrap(n, o.Bootstrap, o.Seed, func(idx []int) (float64, error) {
		s, err := ComputeStats(f.Subset(idx))
		if err != nil {
			return 0, err
		}
		return FrechetDistance(s, refStats)
	})
	if err != nil {
		return Quality{}, err
	}
	kid, std, err := KID(f, ref, o.KIDSubsets, o.KIDSize, o.Seed)
	if err != nil {
		return Quality{}, err
	}
	se := 1.96 * std / math.Sqrt(float64(o.KIDSubsets))
	q.KID = Interval{Value: kid, Lo: kid - se, Hi: kid + se}
	if labels != nil {
		if len(labels) != n {
			return Quality{}, fmt.Errorf("%d labels for %d images", len(labels), n)
		}
		hit := make([]float64, n)
		for i := 0; i < n; i++ {
			best := 0
			for k := 1; k < 10; k++ {
				if logits[i*10+k] > logits[i*10+best] {
					best = k
				}
			}
			if int64(best) == labels[i] {
				hit[i] = 1
			}
		}
		acc, err := Bootstrap(n, o.Bootstrap, o.Seed+1, func(idx []int) (float64, error) {
			var s float64
			for _, i := range idx {
				s += hit[i]
			}
			return s / float64(len(idx)), nil
		})
		if err != nil {
			return Quality{}, err
		}
		q.Accuracy = &acc
	}
	return q, nil
}

// EvalOptions describe a sampling evaluation of a model directory.
type EvalOptions struct {
	Model    string // model directory
	Sampler  string
	Steps    int
	Spacing  string
	Eta      float64
	Guidance float64 // classifier-free guidance scale; 1: none
	N, Batch int
	Seed     uint64
	Quality  QualityOptions
	Progress io.Writer // progress bar; nil: none
}

// EvalReport is what an evaluation measured.
type EvalReport struct {
	Model     string  `json:"model"`
	Sampler   string  `json:"sampler"`
	Steps     int     `json:"steps"`
	Guidance  float64 `json:"guidance"`
	N         int     `json:"n"`
	Seed      uint64  `json:"seed"`
	Reference string  `json:"reference"`
	Quality
	GFLOPsPerSample float64 `json:"gflops_per_sample"`
	MsPerSample     float64 `json:"ms_per_sample"`
}

// Evaluate samples o.N images from a class-conditional or unconditional
// MNIST model (labels cycling through the digits) and measures their
// quality, the analytic GFLOPs spent per sample (forward passes × steps,
// doubled under guidance) and the wall time per sample.
func Evaluate(c *Classifier, o EvalOptions) (EvalReport, []float32, []int64, error) {
	m, s, err := diffusion.LoadModel(o.Model)
	if err != nil {
		return EvalReport{}, nil, nil, err
	}
	cfg := m.Config
	if cfg.InChannels != 1 {
		return EvalReport{}, nil, nil, fmt.Errorf("%s: %d input channels; the MNIST metrics take 1", o.Model, cfg.InChannels)
	}
	if h, w, err := cfg.SampleHW(); err != nil || h != 32 || w != 32 {
		return EvalReport{}, nil, nil, fmt.Errorf("%s: sample_size %v; the MNIST metrics take 32×32 images", o.Model, cfg.SampleSize)
	}
	if o.N < 2 || o.Batch < 1 {
		return EvalReport{}, nil, nil, fmt.Errorf("want at least 2 samples and a positive batch, got %d and %d", o.N, o.Batch)
	}
	k := cfg.NumClasses()
	var labels []int64
	spec := ""
	if k > 0 {
		spec = "cycle"
	}
	if labels, err = diffusion.ParseLabels(spec, o.N, k); err != nil {
		return EvalReport{}, nil, nil, err
	}
	var d diffusion.Denoiser = &diffusion.ModelDenoiser{Model: m}
	passes := 1.0
	if o.Guidance != 1 {
		if k == 0 {
			return EvalReport{}, nil, nil, fmt.Errorf("guidance needs a class-conditional model")
		}
		d = &diffusion.Guided{D: d, Scale: o.Guidance, Null: int64(k - 1)}
		passes = 2
	}
	var done func(int)
	if o.Progress != nil {
		bar := progressbar.NewOptions(o.N, progressbar.OptionSetWriter(o.Progress), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetDescription("sample"), progressbar.OptionSetWidth(30))
		done = func(n int) {
			bar.Set(n)
			if n == o.N {
				bar.Finish()
				fmt.Fprintln(o.Progress)
			}
		}
	}
	start := time.Now()
	x, err := diffusion.SampleMany(d, s, []int{1, 32, 32}, o.N, o.Batch, labels, diffusion.Options{
		Sampler: o.Sampler, Steps: o.Steps, Spacing: o.Spacing, Eta: o.Eta, Seed: o.Seed}, done)
	if err != nil {
		return EvalReport{}, nil, nil, err
	}
	elapsed := time.Since(start)
	xs := x.Data().([]float32)
	q, err := MeasureQuality(c, xs, o.N, labels, o.Quality)
	if err != nil {
		return EvalReport{}, nil, nil, err
	}
	_, flops := m.Cost(32, 32).Total()
	ref := o.Quality.Reference
	if ref == "" {
		ref = "test"
	}
	return EvalReport{
		Model: o.Model, Sampler: o.Sampler, Steps: o.Steps, Guidance: o.Guidance, N: o.N, Seed: o.Seed,
		Reference: "mnist-" + ref, Quality: q,
		GFLOPsPerSample: float64(flops) * float64(o.Steps) * passes / 1e9,
		MsPerSample:     float64(elapsed.Microseconds()) / 1e3 / float64(o.N),
	}, xs, labels, nil
}
