package diffusion

import (
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// rowNoise is a wrapper that adds noise of its own to the wrapped
// denoiser's output, drawn per row from (seed, sample, step, branch): what a
// feature perturbation does. It learns the rows from BeginStep, which the
// sampler delivers without any forwarding by Guided.
type rowNoise struct {
	D     Denoiser
	rows  []Row
	seed  uint64
	step  int
	calls int
	ends  int
}

func (r *rowNoise) Unwrap() Denoiser { return r.D }

func (r *rowNoise) BeginStep(info StepInfo) error {
	r.rows, r.seed, r.step = slices.Clone(info.Rows), info.Seed, info.Index
	return nil
}

func (r *rowNoise) EndStep(e StepEnd) error {
	r.ends++
	return nil
}

func (r *rowNoise) Predict(x *tensor.Dense, t float64, c Cond) (*tensor.Dense, error) {
	out, err := r.D.Predict(x, t, c)
	if err != nil {
		return nil, err
	}
	r.calls++
	n := x.Shape()[0]
	per := x.Shape().TotalSize() / n
	o := out.Data().([]float32)
	for i, row := range r.rows {
		branch := uint64(row.Branch)
		rng := rand.New(rand.NewPCG(r.seed^uint64(row.Sample)<<20, uint64(r.step)<<1|branch))
		for k := i * per; k < (i+1)*per; k++ {
			o[k] += 0.1 * float32(rng.NormFloat64())
		}
	}
	return out, nil
}

// TestRowNoiseIndependentOfBatch: a hook that draws per-row noise from the
// step information gives every sample the same result at batch sizes 1, 2
// and 5, under classifier-free guidance, and sees the guidance layout.
func TestRowNoiseIndependentOfBatch(t *testing.T) {
	s, _ := NewSchedule(DefaultScheduleConfig())
	labels := []int64{0, 1, 2, 3, 4}
	var ref []float32
	for _, batch := range []int{5, 2, 1} {
		rn := &rowNoise{D: toy{}}
		d := &Guided{D: rn, G: Guidance{Scale: 3, Null: Labels([]int64{9})}}
		x, err := SampleMany(d, s, []int{1, 4, 4}, 5, batch, Options{Sampler: "dpmpp2m", Steps: 6, Seed: 11, FirstIndex: 100, Cond: Labels(labels)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if batch == 1 {
			// The last batch is sample 104 alone: its conditional row, then
			// its null row.
			want := []Row{{Sample: 104}, {Sample: 104, Branch: BranchNull}}
			if !slices.Equal(rn.rows, want) {
				t.Errorf("rows inside Guided: %+v, want %+v", rn.rows, want)
			}
		}
		if rn.ends != rn.calls {
			t.Errorf("batch %d: %d EndStep calls for %d steps", batch, rn.ends, rn.calls)
		}
		got := x.Data().([]float32)
		if ref == nil {
			ref = slices.Clone(got)
			continue
		}
		if !slices.Equal(ref, got) {
			t.Errorf("batch %d: samples differ from batch 5", batch)
		}
	}
}

// TestAfterStep: the after-step hook sees every step, with an x₀ estimate
// and the next state; for DDIM at the last step the state is x₀ itself.
func TestAfterStep(t *testing.T) {
	s, _ := NewSchedule(DefaultScheduleConfig())
	for _, sampler := range SamplerNames() {
		var steps []int
		var last, lastX0 []float32
		x, err := Sample(toy{}, s, []int{2, 1, 3, 3}, Options{Sampler: sampler, Steps: 5, Seed: 2,
			AfterStep: func(e StepEnd) error {
				steps = append(steps, e.Index)
				if len(e.Rows) != 2 || e.Denoised == nil || !e.Denoised.Shape().Eq(tensor.Shape{2, 1, 3, 3}) {
					t.Errorf("%s: step end %+v", sampler, e.StepInfo)
				}
				last = slices.Clone(e.Next.Data().([]float32))
				lastX0 = slices.Clone(e.Denoised.Data().([]float32))
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(steps, []int{0, 1, 2, 3, 4}) {
			t.Errorf("%s: after-step saw %v", sampler, steps)
		}
		if !slices.Equal(last, x.Data().([]float32)) {
			t.Errorf("%s: the last step's Next is not the result", sampler)
		}
		if sampler == "ddim" || sampler == "dpmpp2m" {
			for i := range last {
				if d := last[i] - lastX0[i]; d > 1e-5 || d < -1e-5 {
					t.Errorf("%s: last state %g differs from its x₀ estimate %g", sampler, last[i], lastX0[i])
					break
				}
			}
		}
	}
}

// TestFLOPsCounted: ModelDenoiser counts the U-Net's cost per row, and
// guidance doubles the rows.
func TestFLOPsCounted(t *testing.T) {
	m := tinyModel(t)
	s, _ := NewSchedule(DefaultScheduleConfig())
	_, pass := m.Cost(16, 16).Total()
	md := &ModelDenoiser{Model: m}
	if _, err := Sample(md, s, []int{3, 3, 16, 16}, Options{Sampler: "ddim", Steps: 4, Cond: Labels([]int64{0, 1, 2})}); err != nil {
		t.Fatal(err)
	}
	if got, _ := CountedFLOPs(md); got != 3*4*pass {
		t.Errorf("counted %d FLOPs, want %d", got, 3*4*pass)
	}
	cg, err := ClassGuidance(m.Config.NumClasses(), 2)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Guide(&ModelDenoiser{Model: m}, cg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sample(g, s, []int{3, 3, 16, 16}, Options{Sampler: "ddim", Steps: 4, Cond: Labels([]int64{0, 1, 2})}); err != nil {
		t.Fatal(err)
	}
	if got, ok := CountedFLOPs(g); !ok || got != 2*3*4*pass {
		t.Errorf("guided: counted %d FLOPs (%t), want %d", got, ok, 2*3*4*pass)
	}
	if _, ok := CountedFLOPs(toy{}); ok {
		t.Error("a denoiser without a counter reported FLOPs")
	}
}
