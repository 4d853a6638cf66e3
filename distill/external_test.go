package distill_test

// These tests extend the method from outside the package, with its exported
// API only: a new adaptor kind that is registered, distilled, saved,
// loaded and run, and a new sampler that Clockwork runs under.

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
)

// channelMix is a user's adaptor kind: r_out_t = r_out_{t+1} + W·r_out_{t+1}
// with a learned 1×1 convolution W across r_out's channels, starting at
// zero (the identity adaptor).
type channelMix struct {
	*distill.AdaptorBase
	distill.GraphRunner
	params *nn.Params
}

var channelMixKind = distill.Kind{Name: "channelmix", UsesPrev: true, Trainable: true,
	New: func(b *distill.AdaptorBase, seed uint64) (distill.Adaptor, error) {
		a := &channelMix{AdaptorBase: b, params: nn.NewParams()}
		c := b.ROut[0]
		nn.DeclareConv(a.params, seed, "adaptor.mix", c, c, 1)
		clear(a.params.Data("adaptor.mix.weight"))
		clear(a.params.Data("adaptor.mix.bias"))
		return a, nil
	}}

func (a *channelMix) Params() *nn.Params { return a.params }

func (a *channelMix) Shapes(n int) [][]int {
	return [][]int{{n, a.ROut[0], a.ROut[1], a.ROut[2]}}
}

func (a *channelMix) Tensors(in distill.Inputs) ([]*tensor.Dense, error) {
	return []*tensor.Dense{in.ROutPrev}, nil
}

func (a *channelMix) Graph(g *nn.Graph, in []*G.Node) (*G.Node, error) {
	return nn.Add(in[0], g.Conv("adaptor.mix", in[0], nn.Same(1, 1, 0))), nil
}

func (a *channelMix) Apply(in distill.Inputs) (*tensor.Dense, error) { return a.Run(a, in) }

func (a *channelMix) FLOPs() int64 {
	var b unet.CostBuilder
	b.Conv("adaptor.mix", a.ROut[0], a.ROut[0], 1, a.ROut[1], a.ROut[2])
	b.Sum("adaptor.residual", a.ROut[0]*a.ROut[1]*a.ROut[2])
	_, f := b.Cost.Total()
	return f
}

var registerOnce sync.Once

func registerExtensions(t *testing.T) {
	t.Helper()
	var err error
	registerOnce.Do(func() {
		if err = distill.RegisterKind(channelMixKind); err != nil {
			return
		}
		err = diffusion.Register(heunSampler)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func tinyTeacher(t testing.TB) *unet.Model {
	t.Helper()
	c, err := unet.ConfigFrom("mnist_tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := unet.New(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func draw(t *testing.T, d diffusion.Denoiser, sampler string, steps int) []float32 {
	t.Helper()
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	x, err := diffusion.SampleMany(d, s, []int{1, 32, 32}, 4, 4, diffusion.Options{Sampler: sampler, Steps: steps, Seed: 3,
		Cond: diffusion.Labels([]int64{1, 4, 7, 10})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return x.Data().([]float32)
}

// TestExternalAdaptorKind: a kind defined outside the package is
// registered, distilled on the teacher's trajectories (it learns: its
// held-out error on r_out falls below the identity adaptor's it starts
// from), saved, loaded by kind from its directory and run by Clockwork.
func TestExternalAdaptorKind(t *testing.T) {
	registerExtensions(t)
	m := tinyTeacher(t)
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	c := distill.DefaultConfig()
	c.Adaptor = distill.AdaptorConfig{Kind: "channelmix", Depth: 1, Steps: 4}
	c.Epochs, c.Trajectories, c.Validation, c.Batch, c.LR = 3, 8, 4, 4, 3e-3
	dir := filepath.Join(t.TempDir(), "mix")
	d, err := distill.NewDistiller(dir, m, "tiny", s, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	man := d.Manifest()
	if !(man.ValLoss < man.IdentityValLoss) {
		t.Errorf("validation loss %g is not below the identity adaptor's %g", man.ValLoss, man.IdentityValLoss)
	}
	cw, loaded, err := distill.Open(m, dir, 1, "dpmpp2m", 4, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cw.Adaptor.(*channelMix); !ok || loaded.Adaptor.Kind != "channelmix" || loaded.Params != distill.ParamCount(cw.Adaptor) || loaded.Params == 0 {
		t.Errorf("loaded %T, manifest %+v", cw.Adaptor, loaded)
	}
	w := cw.Adaptor.(*channelMix).params.Data("adaptor.mix.weight")
	if !slices.Equal(w, d.Adaptor.Params().Data("adaptor.mix.weight")) || slices.Max(w) == 0 {
		t.Error("the loaded weights are not the distilled ones")
	}
	got := draw(t, cw, "dpmpp2m", 4)
	id, _, err := distill.Open(m, "identity", 1, "dpmpp2m", 4, "clock:2", false)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(got, draw(t, id, "dpmpp2m", 4)) {
		t.Error("the distilled kind samples as the identity adaptor does")
	}
	if cw.FLOPs() <= 0 || cw.StepFLOPs(1, 32, 32) >= cw.StepFLOPs(0, 32, 32) {
		t.Errorf("FLOPs: counted %d; a full step %d, an adaptor step %d", cw.FLOPs(), cw.StepFLOPs(0, 32, 32), cw.StepFLOPs(1, 32, 32))
	}
}

// heunSampler is a user's sampler: Heun's second-order method on the
// probability-flow ODE in σ-space (Karras et al., "Elucidating the Design
// Space of Diffusion-Based Generative Models", NeurIPS 2022, Alg. 1 without
// churn), two model evaluations per step and one at the last, which
// reaches σ = 0.
var heunSampler = diffusion.Sampler{
	Name: "heun-test",
	Timesteps: func(n, T int, spacing string) ([]float64, error) {
		if spacing == "" {
			spacing = diffusion.SpacingLinspace
		}
		return diffusion.Grid(n, n, T, spacing, spacing == diffusion.SpacingLinspace)
	},
	Evals: func(n int) int { return 2*n - 1 },
	Sample: func(r *diffusion.Run) error {
		sig := r.Sigmas()
		x := r.X.Data().([]float32)
		for k := range x {
			x[k] = float32(float64(x[k]) * sig[0])
		}
		mid := tensor.New(tensor.WithShape(r.X.Shape().Clone()...), tensor.Of(tensor.Float32))
		md := mid.Data().([]float32)
		d := make([]float64, len(x))
		for i, t := range r.Timesteps {
			s, next := sig[i], sig[i+1]
			p, err := r.Denoise(r.X, t, diffusion.SigmaSpace(s))
			if err != nil {
				return err
			}
			for k, xv := range x {
				d[k] = (float64(xv) - p.X0[k]) / s
			}
			if next == 0 {
				for k, xv := range x {
					x[k] = float32(float64(xv) + d[k]*(next-s))
				}
				if err := r.EndStep(p.X0, r.X); err != nil {
					return err
				}
				continue
			}
			for k, xv := range x {
				md[k] = float32(float64(xv) + d[k]*(next-s))
			}
			if err := r.EndStep(p.X0, mid); err != nil {
				return err
			}
			p2, err := r.Denoise(mid, r.Timesteps[i+1], diffusion.SigmaSpace(next))
			if err != nil {
				return err
			}
			for k, xv := range x {
				d2 := (float64(md[k]) - p2.X0[k]) / next
				x[k] = float32(float64(xv) + (d[k]+d2)/2*(next-s))
			}
			if err := r.EndStep(p2.X0, r.X); err != nil {
				return err
			}
		}
		return nil
	},
}

// TestExternalSampler: a sampler registered from outside runs the plain
// model and Clockwork, whose clock counts its model evaluations (15 for 8
// Heun steps): the oracle adaptor reproduces the teacher bit for bit, the
// identity adaptor saves FLOPs and changes the samples, and a clock of
// the wrong length is refused.
func TestExternalSampler(t *testing.T) {
	registerExtensions(t)
	m := tinyTeacher(t)
	evals, err := diffusion.EvalsFor("heun-test", 8)
	if err != nil || evals != 15 {
		t.Fatalf("8 Heun steps make %d model evaluations (%v), want 15", evals, err)
	}
	plain := &diffusion.ModelDenoiser{Model: m}
	teacher := draw(t, plain, "heun-test", 8)
	clock, _ := distill.ClockN(2, evals)
	oracle, _ := distill.New(m, distill.AdaptorConfig{Kind: "oracle", Depth: 1, Steps: 8}, 0)
	cwo, err := distill.NewClockwork(m, oracle, clock)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(draw(t, cwo, "heun-test", 8), teacher) {
		t.Error("Clockwork with the oracle adaptor differs from the teacher under Heun")
	}
	cw, _, err := distill.Open(m, "identity", 1, "heun-test", 8, "clock:2", false)
	if err != nil {
		t.Fatal(err)
	}
	got := draw(t, cw, "heun-test", 8)
	if slices.Equal(got, teacher) {
		t.Error("the identity adaptor changed nothing under Heun")
	}
	var l2 float64
	for i := range got {
		l2 += float64(got[i]-teacher[i]) * float64(got[i]-teacher[i])
	}
	if math.IsNaN(l2) || cw.FLOPs() >= plain.FLOPs() {
		t.Errorf("identity under Heun: L2² %g, %d FLOPs against the teacher's %d", l2, cw.FLOPs(), plain.FLOPs())
	}
	short, _ := distill.ClockN(2, 8)
	bad, _ := distill.NewClockwork(m, oracle, short)
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if _, err := diffusion.Sample(bad, s, []int{1, 1, 32, 32}, diffusion.Options{Sampler: "heun-test", Steps: 8, Cond: diffusion.Labels([]int64{1})}); err == nil {
		t.Error("a clock of 8 evaluations ran under 15")
	}
}
