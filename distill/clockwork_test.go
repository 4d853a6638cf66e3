package distill

import (
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/unet"
)

// tinyTeacher is a small random class-conditional 1×32×32 U-Net of the
// reference config's shape.
func tinyTeacher(t testing.TB) *unet.Model {
	t.Helper()
	c, err := unet.ConfigFrom("mnist_tiny") // a small untrained model
	if err != nil {
		t.Fatal(err)
	}
	m, err := unet.New(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func schedule(t testing.TB) *diffusion.Schedule {
	s, err := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var labels5 = []int64{0, 3, 5, 7, 10}

func draw(t *testing.T, d diffusion.Denoiser, sampler string, steps int, guidance float64, k int) []float32 {
	t.Helper()
	cg, err := diffusion.ClassGuidance(k, guidance)
	if err != nil {
		t.Fatal(err)
	}
	g, err := diffusion.Guide(d, cg)
	if err != nil {
		t.Fatal(err)
	}
	x, err := diffusion.SampleMany(g, schedule(t), []int{1, 32, 32}, 5, 5, diffusion.Options{Sampler: sampler, Steps: steps, Seed: 9, Cond: diffusion.Labels(labels5)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return x.Data().([]float32)
}

// TestOracleAndClockOneAreTheTeacher: an oracle adaptor that runs the real
// core, and any adaptor on clock 1, reproduce the teacher's samples bit for
// bit with every sampler, with and without guidance.
func TestOracleAndClockOneAreTheTeacher(t *testing.T) {
	m := tinyTeacher(t)
	k := m.Config.NumClasses()
	oracle, err := New(m, AdaptorConfig{Kind: "oracle", Depth: 1, Steps: 6}, 0)
	if err != nil {
		t.Fatal(err)
	}
	resnet, err := New(m, AdaptorConfig{Kind: "resnet", Depth: 1, Steps: 6}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, sampler := range diffusion.SamplerNames() {
		for _, g := range []float64{1, 2} {
			teacher := draw(t, &diffusion.ModelDenoiser{Model: m}, sampler, 6, g, k)
			c2, _ := ClockN(2, 6)
			cw, err := NewClockwork(m, oracle, c2)
			if err != nil {
				t.Fatal(err)
			}
			if got := draw(t, cw, sampler, 6, g, k); !slices.Equal(got, teacher) {
				t.Errorf("%s guidance %g: the oracle adaptor differs from the teacher", sampler, g)
			}
			c1, _ := ClockN(1, 6)
			cw1, _ := NewClockwork(m, resnet, c1)
			if got := draw(t, cw1, sampler, 6, g, k); !slices.Equal(got, teacher) {
				t.Errorf("%s guidance %g: clock 1 differs from the teacher", sampler, g)
			}
		}
	}
}

// reuse is the identity adaptor written with the U-Net's taps: on the
// schedule's adaptor steps the r_out tap is replaced by the previous
// step's.
type reuse struct {
	md    *diffusion.ModelDenoiser
	tap   string
	sched Clock
	step  int
	prev  *tensor.Dense
	// adapt, when set, maps the kept r_out to the adaptor step's r_out
	// (which is then kept); unset, the kept r_out is reused as it is.
	adapt func(prev *tensor.Dense, step int) (*tensor.Dense, error)
}

func (r *reuse) Unwrap() diffusion.Denoiser { return r.md }
func (r *reuse) BeginStep(info diffusion.StepInfo) error {
	r.step = info.Index
	r.md.Hook = func(tap string, x *tensor.Dense) (*tensor.Dense, error) {
		if tap != r.tap {
			return nil, nil
		}
		if r.sched.Adaptor[r.step] {
			if r.adapt != nil {
				next, err := r.adapt(r.prev, r.step)
				if err != nil {
					return nil, err
				}
				r.prev = next.Clone().(*tensor.Dense)
			}
			return r.prev, nil
		}
		r.prev = x.Clone().(*tensor.Dense)
		return nil, nil
	}
	return nil
}
func (r *reuse) Predict(x *tensor.Dense, t float64, c diffusion.Cond) (*tensor.Dense, error) {
	return r.md.Predict(x, t, c)
}

// TestIdentityReusesROut: the identity adaptor equals reusing the previous
// step's r_out, at both cut depths and several schedules.
func TestIdentityReusesROut(t *testing.T) {
	m := tinyTeacher(t)
	for _, depth := range []int{1, 2} {
		id, err := New(m, AdaptorConfig{Kind: "identity", Depth: depth, Steps: 8}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, spec := range []string{"clock:2", "clock:3", "5,6,7,8"} {
			sched, err := ParseClock(spec, 8)
			if err != nil {
				t.Fatal(err)
			}
			cw, err := NewClockwork(m, id, sched)
			if err != nil {
				t.Fatal(err)
			}
			got := draw(t, cw, "dpmpp2m", 8, 1, 0)
			want := draw(t, &reuse{md: &diffusion.ModelDenoiser{Model: m}, tap: id.Base().Cut.ROutTap(), sched: sched}, "dpmpp2m", 8, 1, 0)
			if !slices.Equal(got, want) {
				t.Errorf("depth %d %s: identity adaptor differs from reusing r_out", depth, spec)
			}
			teacher := draw(t, &diffusion.ModelDenoiser{Model: m}, "dpmpp2m", 8, 1, 0)
			if slices.Equal(got, teacher) {
				t.Errorf("depth %d %s: reusing r_out changed nothing", depth, spec)
			}
		}
	}
}

// TestConsecutiveAdaptorSteps: with an adaptor that reads the previous
// step's r_out (scaleshift, with a scale and shift of its own per step),
// Clockwork equals a reference that keeps every step's r_out itself, on
// schedules with one adaptor step between full steps and with several in
// a row (each adaptor step then reads the last adaptor step's output).
func TestConsecutiveAdaptorSteps(t *testing.T) {
	m := tinyTeacher(t)
	a, err := New(m, AdaptorConfig{Kind: "scaleshift", Depth: 1, Steps: 8}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ss := a.(Trainable)
	scale, shift := ss.Params().Data("adaptor.scale"), ss.Params().Data("adaptor.shift")
	for i := range scale {
		scale[i] += 0.02 * float32(i%7-3)
	}
	for i := range shift {
		shift[i] = 0.01 * float32(i%5-2)
	}
	ri := a.Base().RIn
	adapt := func(prev *tensor.Dense, step int) (*tensor.Dense, error) {
		n := prev.Shape()[0]
		rIn := tensor.New(tensor.WithShape(n, ri[0], ri[1], ri[2]), tensor.Of(tensor.Float32))
		return a.Apply(Inputs{RIn: rIn, ROutPrev: prev, Step: step})
	}
	for _, spec := range []string{"clock:2", "clock:3", "5,6,7,8"} {
		sched, err := ParseClock(spec, 8)
		if err != nil {
			t.Fatal(err)
		}
		cw, err := NewClockwork(m, a, sched)
		if err != nil {
			t.Fatal(err)
		}
		got := draw(t, cw, "dpmpp2m", 8, 1, 0)
		want := draw(t, &reuse{md: &diffusion.ModelDenoiser{Model: m}, tap: a.Base().Cut.ROutTap(), sched: sched, adapt: adapt}, "dpmpp2m", 8, 1, 0)
		if !slices.Equal(got, want) {
			t.Errorf("%s: Clockwork differs from keeping every r_out by hand", spec)
		}
		id := draw(t, &reuse{md: &diffusion.ModelDenoiser{Model: m}, tap: a.Base().Cut.ROutTap(), sched: sched}, "dpmpp2m", 8, 1, 0)
		if slices.Equal(got, id) {
			t.Errorf("%s: the scale and shift changed nothing", spec)
		}
	}
}

// TestClockworkFLOPs: the counted FLOPs are the shell's on every step plus
// the core's on full steps and the adaptor's on the others; the default
// ResNet adaptor costs at most 5% of the reference U-Net.
func TestClockworkFLOPs(t *testing.T) {
	m := tinyTeacher(t)
	a, _ := New(m, AdaptorConfig{Kind: "resnet", Depth: 1, Steps: 8}, 1)
	sched, _ := ClockN(2, 8)
	cw, _ := NewClockwork(m, a, sched)
	draw(t, cw, "dpmpp2m", 8, 1, 0)
	shell, core := a.Base().Cut.Cost(m.Cost(32, 32))
	want := 5 * (8*shell + 4*core + 4*a.FLOPs())
	if cw.FLOPs() != want {
		t.Errorf("counted %d FLOPs, want %d", cw.FLOPs(), want)
	}
	if got, want := m.SamplingFLOPs(32, 32, 0, 8, 4, a.FLOPs()), 8*shell+4*core+4*a.FLOPs(); got != want {
		t.Errorf("SamplingFLOPs %d, want %d", got, want)
	}
	ref, _ := unet.ConfigFrom("mnist")
	big, _ := unet.New(ref, 0)
	_, full := big.Cost(32, 32).Total()
	for _, kind := range []string{"resnet", "unet-light", "scaleshift"} {
		ad, err := New(big, AdaptorConfig{Kind: kind, Depth: 1, Steps: 8}, 0)
		if err != nil {
			t.Fatal(err)
		}
		share := float64(ad.FLOPs()) / float64(full)
		t.Logf("%s adaptor: %d parameters, %.2f MFLOPs, %.2f%% of the U-Net", kind, ParamCount(ad), float64(ad.FLOPs())/1e6, 100*share)
		if share > 0.05 {
			t.Errorf("%s adaptor costs %.1f%% of the U-Net, more than 5%%", kind, 100*share)
		}
	}
}

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		spec string
		want []int
		name string
	}{
		{"clock:2", []int{2, 4, 6, 8}, "clock 2"},
		{"clock:3", []int{2, 3, 5, 6, 8}, "clock 3"},
		{"5,6,7,8", []int{5, 6, 7, 8}, "{5,6,7,8}"},
		{"clock:1", nil, "none"},
		{"all", []int{1, 2, 3, 4, 5, 6, 7, 8}, "all"},
	} {
		s, err := ParseClock(c.spec, 8)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Steps1(), c.want) || s.String() != c.name {
			t.Errorf("%s: steps %v (%s), want %v (%s)", c.spec, s.Steps1(), s, c.want, c.name)
		}
		back, err := ParseClock(s.Format(), 8)
		if err != nil || back.String() != s.String() {
			t.Errorf("%s does not round-trip: %v %v", c.spec, back, err)
		}
	}
	for _, c := range []struct{ spec, want string }{
		{"2,9", "outside the 8 steps"},
		{"0,2", "outside"},
		{"2,2", "twice"},
		{"clock:0", "at least 1"},
		{"every", "clock:N, all"},
	} {
		if _, err := ParseClock(c.spec, 8); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error mentioning %q", c.spec, err, c.want)
		}
	}
	s, _ := ParseClock("1,2", 8)
	if err := s.Validate(true); err == nil || !strings.Contains(err.Error(), "first step must be full") {
		t.Errorf("adaptor at step 1: %v", err)
	}
	if err := ClockAll(8).Validate(false); err != nil {
		t.Errorf("all steps without the previous r_out: %v", err)
	}
}
