package clockstudy_test

// A method from outside the toolkit, written with its exported API only,
// is compared with the teacher (evaluate.Compare) and entered in the
// Clockwork study beside the toolkit's own methods.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/clockstudy"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/unet"
)

// deepCache is DeepCache (Ma, Fang & Wang, "DeepCache: Accelerating
// Diffusion Models for Free", CVPR 2024) as a user would write it: the
// U-Net's deep features below a cut are computed on every N-th step and
// reused on the others, where only the shallow shell runs.
type deepCache struct {
	model *unet.Model
	cut   unet.Split
	every int
	step  int
	cache *tensor.Dense
	flops int64
	shell int64
	core  int64
}

func newDeepCache(m *unet.Model, depth, every int) (*deepCache, error) {
	cut, err := m.SplitAt(depth)
	if err != nil {
		return nil, err
	}
	h, w, _ := m.Config.SampleHW()
	shell, core := cut.Cost(m.Cost(h, w))
	return &deepCache{model: m, cut: cut, every: every, shell: shell, core: core}, nil
}

func (d *deepCache) BeginStep(info diffusion.StepInfo) error {
	d.step = info.Index
	if info.Index == 0 {
		d.cache = nil
	}
	return nil
}

func (d *deepCache) Predict(x *tensor.Dense, t float64, c diffusion.Cond) (*tensor.Dense, error) {
	sh, err := d.cut.ShellIn(x, []float64{t}, c.UNet(), nil)
	if err != nil {
		return nil, err
	}
	n := int64(x.Shape()[0])
	rOut := d.cache
	if d.step%d.every == 0 || d.cache == nil || d.cache.Shape()[0] != x.Shape()[0] {
		if rOut, err = d.model.Core(sh, nil); err != nil {
			return nil, err
		}
		d.cache = rOut.Clone().(*tensor.Dense)
		d.flops += n * d.core
	}
	d.flops += n * d.shell
	return d.model.ShellOut(sh, rOut, nil)
}

func (d *deepCache) FLOPs() int64 { return d.flops }

// TestDeepCacheFromOutside: a DeepCache-like denoiser written outside the
// toolkit is compared with the teacher from the same noise and labels
// (quality, FLOPs, distance, paired wall time), and enters the Clockwork
// study as a custom cell, measured and tabled like the toolkit's methods.
func TestDeepCacheFromOutside(t *testing.T) {
	c, _ := unet.ConfigFrom("mnist_tiny") // a small untrained model
	m, err := unet.New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	noise, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	clf, err := metrics.MNISTClassifier()
	if err != nil {
		t.Fatal(err)
	}
	shape, _ := c.SampleShape()
	labels, _ := evaluate.LabelsFor(8, c.NumClasses())
	setup := evaluate.Setup{Noise: noise, Shape: shape, N: 8, Batch: 4, Seed: 1, Cond: diffusion.Labels(labels)}
	dc, err := newDeepCache(m, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	teacher := evaluate.Method{Name: "teacher", Denoiser: &diffusion.ModelDenoiser{Model: m}, Sampler: "dpmpp2m", Steps: 6}
	method := evaluate.Method{Name: "deepcache", Denoiser: dc, Sampler: "dpmpp2m", Steps: 6}
	cmp, _, err := evaluate.Compare(clf, teacher, method, setup, evaluate.CompareOptions{Distances: true, Rounds: 2, TimeBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !(cmp.GFLOPsPerSample < cmp.RefGFLOPs) || cmp.L2 == nil || !(cmp.L2.Value > 0) || cmp.Paired == nil || cmp.Paired.Rounds != 2 {
		t.Errorf("comparison: %.3f GFLOPs against %.3f, L2 %v, timing %+v", cmp.GFLOPsPerSample, cmp.RefGFLOPs, cmp.L2, cmp.Paired)
	}

	// The study: the teacher, the toolkit's identity adaptor and the
	// user's method, all at 6 DPM-Solver++ steps.
	cfg := clockstudy.Config{Model: m.Fingerprint(), Shape: shape, N: 8, TimeBatch: 4, TimeRounds: 1, Keep: 2, Distill: clockstudy.DefaultDistill(),
		Methods: []clockstudy.Method{
			clockstudy.TeacherMethod(clockstudy.BaseSampler, clockstudy.BaseSteps, "ladder"),
			clockstudy.ClockworkMethod("identity", "dpmpp2m", 6, "clock:2", "ladder"),
			clockstudy.CustomMethod("deepcache-3", "dpmpp2m", 6, "ladder"),
		}}
	if err := cfg.Validate(m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &clockstudy.Runner{Config: cfg, Model: m, Noise: noise, Classifier: clf, Dir: dir, Adaptors: filepath.Join(dir, "adaptors"), Batch: 4,
		Custom: map[string]clockstudy.Builder{"deepcache-3": func(m *unet.Model, sampler string, steps int) (diffusion.Denoiser, error) {
			return newDeepCache(m, 2, 3)
		}}}
	recs, err := study.Run(context.Background(), cfg.Study(), study.Options{Dir: dir}, r.Run)
	if err != nil {
		t.Fatal(err)
	}
	res, err := clockstudy.Decode(cfg, recs)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := res.Get(cfg.Methods[2])
	if !ok || got.L2 == nil || got.Timing == nil || !(got.GFLOPs > 0) {
		t.Fatalf("the custom cell: %+v", got)
	}
	if _, err := clockstudy.Report(dir, res); err != nil {
		t.Fatal(err)
	}
	tables, _ := os.ReadFile(filepath.Join(dir, "tables.md"))
	if !strings.Contains(string(tables), "| deepcache-3 (dpmpp2m 6 steps) |") {
		t.Errorf("tables.md has no row of the custom method:\n%s", tables)
	}
	// Without its builder, a custom cell is an error naming it.
	r2 := *r
	r2.Custom, r2.Dir = nil, t.TempDir()
	if _, err := study.Run(context.Background(), cfg.Study(), study.Options{Dir: r2.Dir}, r2.Run); err == nil || !strings.Contains(err.Error(), "Runner.Custom") {
		t.Errorf("a custom cell without a builder: %v", err)
	}
}
