package diffusion

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

// The fixture comes from scripts/reference/make_diffusion_fixtures.py, an
// independent numpy implementation of diffusers' schedulers.
func fixture(t *testing.T) map[string]npzio.Array {
	t.Helper()
	f, err := npzio.Read("testdata/schedulers.npz")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestScheduleMatchesDiffusers(t *testing.T) {
	f := fixture(t)
	for _, sched := range []string{"linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"} {
		for _, rescale := range []bool{false, true} {
			c := DefaultScheduleConfig()
			c.BetaSchedule, c.RescaleBetasZeroSNR = sched, rescale
			if sched == "scaled_linear" {
				c.BetaStart, c.BetaEnd = 0.00085, 0.012
			}
			s, err := NewSchedule(c)
			if err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("%s.%d", sched, map[bool]int{false: 0, true: 1}[rescale])
			for i, b := range f["betas."+key].F64 {
				// Both are float32 values, built in float32 (PyTorch's linspace rounds
				// differently in a few ulps): agree to float32 precision, and
				// where rescaling computes 1 − ᾱ_t/ᾱ_{t−1} in float32, to
				// that subtraction's rounding.
				tol := 1e-6*math.Abs(b) + 1e-12
				if rescale {
					tol += 3e-5*math.Abs(b) + 5e-7
				}
				if math.Abs(s.Betas[i]-b) > tol {
					t.Fatalf("%s: beta[%d] = %.10g, want %.10g", key, i, s.Betas[i], b)
				}
			}
			for i, a := range f["acp."+key].F64 {
				if math.Abs(s.AlphasCumprod[i]-a) > 1e-5*a+1e-9 {
					t.Fatalf("%s: alphas_cumprod[%d] = %.10g, want %.10g", key, i, s.AlphasCumprod[i], a)
				}
			}
			if rescale && s.AlphasCumprod[s.T()-1] > 1e-12 {
				t.Errorf("%s: terminal alphas_cumprod %g, want 0", key, s.AlphasCumprod[s.T()-1])
			}
		}
	}
}

func TestTimestepsMatchDiffusers(t *testing.T) {
	f := fixture(t)
	for _, sampler := range SamplerNames() {
		for _, sp := range []string{SpacingLeading, SpacingTrailing, SpacingLinspace} {
			for _, n := range []int{1000, 50, 20, 8, 4} {
				want := f[fmt.Sprintf("ts.%s.%s.%d", sampler, sp, n)].F64
				got, err := Timesteps(sampler, n, 1000, sp)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%s %s %d: %d timesteps, want %d", sampler, sp, n, len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%s %s %d: timestep %d = %g, want %g", sampler, sp, n, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// toy is the deterministic stand-in denoiser shared with the fixture script.
type toy struct{}

func (toy) Predict(x *tensor.Dense, t float64, _ Cond) (*tensor.Dense, error) {
	out := tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32))
	o := out.Data().([]float32)
	for i, v := range x.Data().([]float32) {
		o[i] = float32(math.Tanh(0.5*float64(v))*(t/1000+0.1) + 0.05*math.Cos(0.01*t))
	}
	return out, nil
}

// TestSamplersMatchDiffusers runs every sampler with the toy denoiser from
// the fixture's initial noise (and per-step noise) and compares the whole
// trajectory with the reference.
func TestSamplersMatchDiffusers(t *testing.T) {
	f := fixture(t)
	init := f["traj.init"]
	for _, n := range []int{20, 8, 4} {
		noise := f[fmt.Sprintf("traj.noise.%d", n)]
		for _, pred := range []string{PredictEpsilon, PredictV, PredictSample} {
			c := DefaultScheduleConfig()
			c.PredictionType = pred
			s, _ := NewSchedule(c)
			for _, tc := range []struct {
				name string
				o    Options
			}{
				{"ddpm_small", Options{Sampler: "ddpm"}},
				{"ddpm_large", Options{Sampler: "ddpm", Variance: "fixed_large"}},
				{"ddim", Options{Sampler: "ddim"}},
				{"ddim_eta", Options{Sampler: "ddim", Eta: 0.7, NoClip: true, Spacing: SpacingTrailing}},
				{"dpmpp2m", Options{Sampler: "dpmpp2m"}},
				{"euler", Options{Sampler: "euler"}},
			} {
				want := f[fmt.Sprintf("traj.%s.%s.%d", tc.name, pred, n)].F64
				per := 9
				o := tc.o
				o.Steps = n
				o.noise = func(step, sample int, dst []float32) {
					var src []float64
					if step < 0 {
						src = init.F64[sample*per:]
					} else {
						src = noise.F64[(step*2+sample)*per:]
					}
					for i := range dst {
						dst[i] = float32(src[i])
					}
				}
				step := 0
				o.Hook = func(info StepInfo) error {
					step = info.Index
					return nil
				}
				got, err := Sample(toy{}, s, []int{2, 1, 3, 3}, o)
				if err != nil {
					t.Fatal(err)
				}
				final := want[n*2*per:]
				for i, v := range got.Data().([]float32) {
					if math.Abs(float64(v)-final[i]) > 2e-4*(1+math.Abs(final[i])) {
						t.Fatalf("%s %s %d steps: x[%d] = %.7g, want %.7g", tc.name, pred, n, i, v, final[i])
					}
				}
				if step != n-1 {
					t.Errorf("%s: hook saw last step %d, want %d", tc.name, step, n-1)
				}
			}
		}
	}
}

// gaussian is the exact ε-denoiser of data x₀ ~ N(mu, sd²) per dimension:
// E[ε | x_t] for x_t = √ᾱ·x₀ + √(1−ᾱ)·ε.
type gaussian struct {
	s      *Schedule
	mu, sd float64
}

func (g gaussian) Predict(x *tensor.Dense, t float64, _ Cond) (*tensor.Dense, error) {
	// Interpolate ᾱ at fractional t like the samplers' σ(t).
	lo := int(math.Floor(t))
	hi := min(lo+1, g.s.T()-1)
	sl, sh := g.s.sigmaOf(lo), g.s.sigmaOf(hi)
	sig := sl + (t-float64(lo))*(sh-sl)
	ab := 1 / (1 + sig*sig)
	a, s := math.Sqrt(ab), math.Sqrt(1-ab)
	v := ab*g.sd*g.sd + 1 - ab
	out := tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32))
	o := out.Data().([]float32)
	for i, xv := range x.Data().([]float32) {
		x0 := g.mu + a*g.sd*g.sd/v*(float64(xv)-a*g.mu)
		o[i] = float32((float64(xv) - a*x0) / s)
	}
	return out, nil
}

// TestSamplersGaussian checks that every sampler, with the exact denoiser of
// a Gaussian, reproduces its mean at 1000 to 4 steps and its variance at
// many steps, with an error that shrinks as steps grow. (At few steps the
// samplers' last model call is at a timestep well above 0, where the
// denoiser's posterior mean has less spread than the data: the variance
// deficit there is the samplers' discretisation error, not noise.)
func TestSamplersGaussian(t *testing.T) {
	s, _ := NewSchedule(DefaultScheduleConfig())
	g := gaussian{s: s, mu: 0.3, sd: 0.5}
	const n = 4000
	// Tolerance on the standard deviation by step count; the mean's
	// sampling error is sd/√n ≈ 0.008.
	tolS := map[int]float64{1000: 0.025, 50: 0.07, 20: 0.13, 8: 0.22, 4: 0.36}
	for _, sampler := range SamplerNames() {
		errs := map[int]float64{}
		for _, steps := range []int{1000, 50, 20, 8, 4} {
			o := Options{Sampler: sampler, Steps: steps, Seed: 9, NoClip: true}
			x, err := Sample(g, s, []int{n, 1, 1, 1}, o)
			if err != nil {
				t.Fatal(err)
			}
			var m, v float64
			for _, e := range x.Data().([]float32) {
				m += float64(e)
			}
			m /= n
			for _, e := range x.Data().([]float32) {
				v += (float64(e) - m) * (float64(e) - m)
			}
			sd := math.Sqrt(v / n)
			errs[steps] = math.Abs(sd - g.sd)
			t.Logf("%-7s %4d steps: mean %.4f (want %.2f), std %.4f (want %.2f)", sampler, steps, m, g.mu, sd, g.sd)
			if math.Abs(m-g.mu) > 0.03 || errs[steps] > tolS[steps] {
				t.Errorf("%s %d steps: mean %.4f, std %.4f; want %.2f±0.03, %.2f±%.3f", sampler, steps, m, sd, g.mu, g.sd, tolS[steps])
			}
		}
		if !(errs[1000] < errs[50] && errs[50] < errs[8] && errs[8] < errs[4]) {
			t.Errorf("%s: variance error does not shrink with steps: %v", sampler, errs)
		}
	}
}

// TestSamplersZeroTerminalSNR: with a zero-terminal-SNR schedule (ᾱ = 0
// at the last timestep, σ infinite) the σ-space samplers start from a
// large finite σ, as diffusers' do, and still reproduce the Gaussian.
func TestSamplersZeroTerminalSNR(t *testing.T) {
	c := DefaultScheduleConfig()
	c.RescaleBetasZeroSNR = true
	s, err := NewSchedule(c)
	if err != nil {
		t.Fatal(err)
	}
	if s.AlphasCumprod[s.T()-1] != 0 {
		t.Fatalf("terminal alphas_cumprod %g, want 0", s.AlphasCumprod[s.T()-1])
	}
	g := gaussian{s: s, mu: 0.3, sd: 0.5}
	const n = 4000
	for _, sampler := range []string{"dpmpp2m", "euler"} {
		x, err := Sample(g, s, []int{n, 1, 1, 1}, Options{Sampler: sampler, Steps: 20, Seed: 9, NoClip: true})
		if err != nil {
			t.Fatalf("%s: %v", sampler, err)
		}
		var m, v float64
		for _, e := range x.Data().([]float32) {
			m += float64(e) / n
		}
		for _, e := range x.Data().([]float32) {
			v += (float64(e) - m) * (float64(e) - m) / n
		}
		if math.Abs(m-g.mu) > 0.03 || math.Abs(math.Sqrt(v)-g.sd) > 0.13 {
			t.Errorf("%s: mean %.4f, std %.4f; want %.2f±0.03, %.2f±0.13", sampler, m, math.Sqrt(v), g.mu, g.sd)
		}
	}
	if w := s.MinSNRWeight(s.T()-1, 5); w != 1 {
		t.Errorf("min-SNR weight at zero SNR (epsilon) = %g, want 1", w)
	}
}

// TestNoiseIndependentOfBatch draws 6 samples in one batch and in batches of
// 1, 2 and 3, with stochastic samplers too: every sample must be identical.
func TestNoiseIndependentOfBatch(t *testing.T) {
	s, _ := NewSchedule(DefaultScheduleConfig())
	for _, o := range []Options{{Sampler: "ddpm", Steps: 8}, {Sampler: "ddim", Steps: 8, Eta: 1}, {Sampler: "dpmpp2m", Steps: 8}, {Sampler: "euler", Steps: 8}} {
		o.Seed = 42
		all, err := Sample(toy{}, s, []int{6, 1, 2, 2}, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range []int{1, 2, 3} {
			for first := 0; first < 6; first += b {
				o.FirstIndex = first
				part, err := Sample(toy{}, s, []int{b, 1, 2, 2}, o)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range part.Data().([]float32) {
					if w := all.Data().([]float32)[first*4+i]; v != w {
						t.Fatalf("%s: sample %d differs in a batch of %d: %g vs %g", o.Sampler, first+i/4, b, v, w)
					}
				}
			}
		}
	}
}

func TestDDIMDeterministic(t *testing.T) {
	s, _ := NewSchedule(DefaultScheduleConfig())
	o := Options{Sampler: "ddim", Steps: 10, Seed: 3}
	a, _ := Sample(toy{}, s, []int{2, 1, 2, 2}, o)
	b, _ := Sample(toy{}, s, []int{2, 1, 2, 2}, o)
	o.Seed = 4
	c, _ := Sample(toy{}, s, []int{2, 1, 2, 2}, o)
	same, differ := true, false
	for i, v := range a.Data().([]float32) {
		same = same && v == b.Data().([]float32)[i]
		differ = differ || v != c.Data().([]float32)[i]
	}
	if !same || !differ {
		t.Errorf("DDIM eta 0: same seed equal %t, other seed differs %t", same, differ)
	}
}

func TestSampleBadOptions(t *testing.T) {
	s, _ := NewSchedule(DefaultScheduleConfig())
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Sampler: "heun", Steps: 4}, "unknown sampler"},
		{Options{Sampler: "ddim", Steps: 0}, "0 steps"},
		{Options{Sampler: "ddim", Steps: 2000}, "2000 steps"},
		{Options{Sampler: "ddim", Steps: 4, Spacing: "even"}, "spacing"},
		{Options{Sampler: "ddpm", Steps: 4, Variance: "learned"}, "variance"},
		{Options{Sampler: "ddim", Steps: 4, Cond: Labels([]int64{1})}, "labels"},
	} {
		if _, err := Sample(toy{}, s, []int{2, 1, 2, 2}, c.o); err == nil || !contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one mentioning %q", c.o, err, c.want)
		}
	}
	for _, c := range []ScheduleConfig{
		{NumTrainTimesteps: 1000, BetaStart: 1e-4, BetaEnd: 0.02, BetaSchedule: "quadratic", PredictionType: PredictEpsilon},
		{NumTrainTimesteps: 1000, BetaStart: 1e-4, BetaEnd: 0.02, BetaSchedule: "linear", PredictionType: "score"},
		{NumTrainTimesteps: 1, BetaStart: 1e-4, BetaEnd: 0.02, BetaSchedule: "linear", PredictionType: PredictEpsilon},
		{NumTrainTimesteps: 10, BetaStart: 1e-4, BetaEnd: 2, BetaSchedule: "linear", PredictionType: PredictEpsilon},
	} {
		if _, err := NewSchedule(c); err == nil {
			t.Errorf("schedule %+v accepted", c)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

// TestStrength runs every sampler part-way from images (Options.Init,
// Strength) with the exact denoiser of one point, the target: the run
// makes int(Steps·Strength) evaluations at the whole run's last
// timesteps, starts from the images noised to the first of them (the
// state less that of a run from zero images is √ᾱ times the images), keeps
// the deterministic samplers' states on the line √ᾱ·target + √(1−ᾱ)·ε
// with one ε (a step of the wrong size leaves it), and ends at the target.
func TestStrength(t *testing.T) {
	s, _ := NewSchedule(DefaultScheduleConfig())
	const target = 0.3
	g := gaussian{s: s, mu: target}
	alpha := func(tt float64) (float64, float64) { // √ᾱ, √(1−ᾱ) as gaussian interpolates them
		lo := int(math.Floor(tt))
		hi := min(lo+1, s.T()-1)
		sl, sh := s.sigmaOf(lo), s.sigmaOf(hi)
		sig := sl + (tt-float64(lo))*(sh-sl)
		ab := 1 / (1 + sig*sig)
		return math.Sqrt(ab), math.Sqrt(1 - ab)
	}
	shape := []int{3, 1, 2, 2}
	img := []float32{-1, -0.5, 0, 0.5, 1, 0.25, -0.75, 0.9, 0.1, -0.2, 0.6, -0.9}
	type eval struct {
		t float64
		x []float32
	}
	run := func(o Options) ([]eval, []float32) {
		var evals []eval
		o.Hook = func(info StepInfo) error {
			evals = append(evals, eval{info.T, slices.Clone(info.X.Float32s())})
			return nil
		}
		x, err := Sample(g, s, shape, o)
		if err != nil {
			t.Fatalf("%s: %v", o.Sampler, err)
		}
		return evals, x.Float32s()
	}
	for _, name := range []string{"ddpm", "ddim", "dpmpp2m", "euler"} {
		full, _ := run(Options{Sampler: name, Steps: 8, Seed: 5})
		o := Options{Sampler: name, Steps: 8, Seed: 5, Init: img, Strength: 0.5}
		part, out := run(o)
		o.Init = make([]float32, len(img))
		zero, _ := run(o)
		if len(part) != 4 {
			t.Fatalf("%s: %d evaluations at strength 0.5 of 8 steps, want 4", name, len(part))
		}
		for i, e := range part {
			if e.t != full[4+i].t {
				t.Errorf("%s: evaluation %d at timestep %g, want the whole run's %g", name, i, e.t, full[4+i].t)
			}
		}
		a0, s0 := alpha(part[0].t)
		for k, v := range img {
			if d := float64(part[0].x[k] - zero[0].x[k]); math.Abs(d-a0*float64(v)) > 1e-5 {
				t.Fatalf("%s: the first state less a run's from zero images is %g at %d, want √ᾱ·image %g", name, d, k, a0*float64(v))
			}
		}
		if name != "ddpm" {
			for i, e := range part {
				a, sg := alpha(e.t)
				for k, v := range e.x {
					eps := (float64(v) - a*target) / sg
					eps0 := (float64(part[0].x[k]) - a0*target) / s0
					if math.Abs(eps-eps0) > 2e-3*max(1, math.Abs(eps0)) {
						t.Fatalf("%s: evaluation %d (t %g) value %d has ε %g, the first %g: off the line to the target", name, i, e.t, k, eps, eps0)
					}
				}
			}
		}
		for k, v := range out {
			if math.Abs(float64(v)-target) > 1e-3 {
				t.Fatalf("%s: value %d ends at %g, want the target %g", name, k, v, target)
			}
		}
	}
}

// TestStrengthIndependentOfBatch: a run from images draws sample j from
// its own image and stream in any batch.
func TestStrengthIndependentOfBatch(t *testing.T) {
	s, _ := NewSchedule(DefaultScheduleConfig())
	img := make([]float32, 5*4)
	for k := range img {
		img[k] = float32(math.Sin(float64(k)))
	}
	for _, name := range []string{"ddpm", "euler", "dpmpp2m"} {
		o := Options{Sampler: name, Steps: 6, Seed: 9, Init: img, Strength: 0.7}
		all, err := SampleMany(toy{}, s, []int{1, 2, 2}, 5, 5, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		two, err := SampleMany(toy{}, s, []int{1, 2, 2}, 5, 2, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(all.Float32s(), two.Float32s()) {
			t.Errorf("%s: runs from images differ between batches of 5 and 2", name)
		}
	}
}

func TestStrengthBadOptions(t *testing.T) {
	s, _ := NewSchedule(DefaultScheduleConfig())
	img := make([]float32, 8)
	nan := slices.Clone(img)
	nan[3] = float32(math.NaN())
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Sampler: "ddim", Steps: 4, Strength: 0.5}, "needs images"},
		{Options{Sampler: "ddim", Steps: 4, Strength: 1.5, Init: img}, "strength 1.5"},
		{Options{Sampler: "ddim", Steps: 4, Strength: -0.5, Init: img}, "strength -0.5"},
		{Options{Sampler: "ddim", Steps: 4, Strength: math.NaN(), Init: img}, "strength NaN"},
		{Options{Sampler: "ddim", Steps: 4, Strength: 0.2, Init: img}, "keeps no step"},
		{Options{Sampler: "ddim", Steps: 4, Strength: 0.5, Init: img[:4]}, "4 values"},
		{Options{Sampler: "ddim", Steps: 4, Strength: 0.5, Init: nan}, "value 3 is NaN"},
	} {
		if _, err := Sample(toy{}, s, []int{2, 1, 2, 2}, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("strength %g, %d init values: error %v, want one mentioning %q", c.o.Strength, len(c.o.Init), err, c.want)
		}
	}
	if _, err := SampleMany(toy{}, s, []int{1, 2, 2}, 3, 2, Options{Sampler: "ddim", Steps: 4, Strength: 0.5, Init: img}, nil); err == nil || !strings.Contains(err.Error(), "8 values of images") {
		t.Errorf("SampleMany of 3 samples from 2 images: %v", err)
	}
}
