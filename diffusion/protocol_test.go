package diffusion_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
)

// zero is a denoiser that predicts ε = 0 and counts its calls.
type zero struct{ calls, begins int }

func (z *zero) Predict(x *tensor.Dense, _ float64, _ diffusion.Cond) (*tensor.Dense, error) {
	z.calls++
	return tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32)), nil
}

func (z *zero) BeginStep(diffusion.StepInfo) error { z.begins++; return nil }

// register adds a sampler for one test, under a name of its own.
func register(t *testing.T, s diffusion.Sampler) string {
	t.Helper()
	s.Name = "test-" + t.Name() + "-" + s.Name
	if s.Timesteps == nil {
		s.Timesteps = func(n, T int, spacing string) ([]float64, error) {
			return diffusion.Grid(n, n, T, diffusion.SpacingLeading, false)
		}
	}
	if err := diffusion.Register(s); err != nil {
		t.Fatal(err)
	}
	return s.Name
}

// TestStepProtocolErrors: a sampler that breaks the step protocol (leaves
// a step unended, ends one it never began, makes fewer or more model
// evaluations than it declares) gets an error, never a silently different
// run of a step-dependent denoiser.
func TestStepProtocolErrors(t *testing.T) {
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	vp := func(r *diffusion.Run, t float64) diffusion.Scaling {
		a := r.Schedule.AlphasCumprod[int(t)]
		return diffusion.VP(math.Sqrt(a), math.Sqrt(1-a))
	}
	for _, c := range []struct {
		name   string
		sample func(r *diffusion.Run) error
		want   string
	}{
		{"unended", func(r *diffusion.Run) error {
			for _, t := range r.Timesteps {
				if _, err := r.Denoise(r.X, t, vp(r, t)); err != nil {
					return err
				}
			}
			return nil
		}, "before evaluation 1 ended"},
		{"lastunended", func(r *diffusion.Run) error {
			for i, t := range r.Timesteps {
				p, err := r.Denoise(r.X, t, vp(r, t))
				if err != nil {
					return err
				}
				if i < len(r.Timesteps)-1 {
					if err := r.EndStep(p.X0, r.X); err != nil {
						return err
					}
				}
			}
			return nil
		}, "not ended"},
		{"fewer", func(r *diffusion.Run) error {
			t := r.Timesteps[0]
			p, err := r.Denoise(r.X, t, vp(r, t))
			if err != nil {
				return err
			}
			return r.EndStep(p.X0, r.X)
		}, "made 1 of the 4 model evaluations"},
		{"more", func(r *diffusion.Run) error {
			for range 5 {
				t := r.Timesteps[0]
				p, err := r.Denoise(r.X, t, vp(r, t))
				if err != nil {
					return err
				}
				if err := r.EndStep(p.X0, r.X); err != nil {
					return err
				}
			}
			return nil
		}, "beyond the 4 it declares"},
		{"endonly", func(r *diffusion.Run) error {
			return r.EndStep(nil, r.X)
		}, "EndStep without a model evaluation"},
	} {
		name := register(t, diffusion.Sampler{Name: c.name, Sample: c.sample})
		z := &zero{}
		_, err := diffusion.Sample(z, s, []int{1, 1, 2, 2}, diffusion.Options{Sampler: name, Steps: 4})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error mentioning %q", c.name, err, c.want)
		}
		if z.begins != z.calls {
			t.Errorf("%s: %d model calls but %d begun steps", c.name, z.calls, z.begins)
		}
	}
}

// TestRegisterSampler: a registered sampler is named like the toolkit's
// own; names are unique.
func TestRegisterSampler(t *testing.T) {
	name := register(t, diffusion.Sampler{Name: "x0", Sample: func(r *diffusion.Run) error {
		for _, t := range r.Timesteps {
			a := r.Schedule.AlphasCumprod[int(t)]
			p, err := r.Denoise(r.X, t, diffusion.VP(math.Sqrt(a), math.Sqrt(1-a)))
			if err != nil {
				return err
			}
			x := r.X.Data().([]float32)
			for k := range x {
				x[k] = float32(p.X0[k])
			}
			if err := r.EndStep(p.X0, r.X); err != nil {
				return err
			}
		}
		return nil
	}})
	if !slices.Contains(diffusion.SamplerNames(), name) {
		t.Errorf("%s is not among %v", name, diffusion.SamplerNames())
	}
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if _, err := diffusion.Sample(&zero{}, s, []int{2, 1, 2, 2}, diffusion.Options{Sampler: name, Steps: 3}); err != nil {
		t.Fatal(err)
	}
	if err := diffusion.Register(diffusion.Sampler{Name: name, Timesteps: func(n, T int, sp string) ([]float64, error) { return nil, nil }, Sample: func(*diffusion.Run) error { return nil }}); err == nil {
		t.Error("a sampler name registered twice")
	}
	if err := diffusion.Register(diffusion.Sampler{Name: "nothing"}); err == nil {
		t.Error("a sampler without functions registered")
	}
	if _, err := diffusion.LookupSampler("heun-not-registered"); err == nil || !strings.Contains(err.Error(), "dpmpp2m") {
		t.Errorf("unknown sampler: %v", err)
	}
}
