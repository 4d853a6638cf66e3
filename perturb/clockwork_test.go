package perturb_test

import (
	"slices"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/perturb"
	"github.com/clockwork-go/clockwork/unet"
)

// TestPerturbedClockwork: a perturbation wraps a Clockwork sampler as it
// wraps the plain model. With the oracle adaptor (Clockwork that is the
// teacher) a perturbation of a shell tap gives the plain model's perturbed
// samples bit for bit, under guidance and at any batch size; with the
// identity adaptor it changes the samples, and a = 1 changes nothing.
func TestPerturbedClockwork(t *testing.T) {
	c, err := unet.ConfigFrom("mnist_tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := unet.New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	clock, _ := distill.ClockN(2, 6)
	labels := []int64{0, 2, 4, 6, 8}
	draw := func(d diffusion.Denoiser, p *perturb.Perturbation, batch int) []float32 {
		t.Helper()
		if p != nil {
			pd, err := perturb.New(d, *p, m.Taps(), 6)
			if err != nil {
				t.Fatal(err)
			}
			d = pd
		}
		g, _ := diffusion.ClassGuidance(m.Config.NumClasses(), 2)
		gd, err := diffusion.Guide(d, g)
		if err != nil {
			t.Fatal(err)
		}
		x, err := diffusion.SampleMany(gd, s, []int{1, 32, 32}, 5, batch, diffusion.Options{Sampler: "dpmpp2m", Steps: 6, Seed: 2, Cond: diffusion.Labels(labels)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return x.Data().([]float32)
	}
	clockwork := func(kind string) diffusion.Denoiser {
		a, err := distill.New(m, distill.AdaptorConfig{Kind: kind, Depth: 1, Steps: 6}, 0)
		if err != nil {
			t.Fatal(err)
		}
		cw, err := distill.NewClockwork(m, a, clock)
		if err != nil {
			t.Fatal(err)
		}
		return cw
	}
	shellTap := perturb.Perturbation{Tap: unet.TapConvIn, From: 2, A: 0.3}
	plain := draw(&diffusion.ModelDenoiser{Model: m}, &shellTap, 5)
	if got := draw(clockwork("oracle"), &shellTap, 5); !slices.Equal(got, plain) {
		t.Error("perturbed oracle Clockwork differs from the perturbed plain model")
	}
	if got := draw(clockwork("oracle"), &shellTap, 2); !slices.Equal(got, plain) {
		t.Error("perturbed oracle Clockwork depends on the batch size")
	}
	id := draw(clockwork("identity"), nil, 5)
	idPerturbed := draw(clockwork("identity"), &shellTap, 5)
	if slices.Equal(id, idPerturbed) {
		t.Error("the perturbation changed nothing in the identity Clockwork sampler")
	}
	if got := draw(clockwork("identity"), &shellTap, 1); !slices.Equal(got, idPerturbed) {
		t.Error("perturbed identity Clockwork depends on the batch size")
	}
	none := perturb.Perturbation{Tap: "mid_block", From: 0, A: 1}
	if got := draw(clockwork("identity"), &none, 5); !slices.Equal(got, id) {
		t.Error("a = 1 changed the identity Clockwork sampler's samples")
	}
	core := perturb.Perturbation{Tap: "mid_block", From: 0, A: 0.3}
	if got := draw(clockwork("identity"), &core, 5); slices.Equal(got, id) {
		t.Error("perturbing the core on its full steps changed nothing")
	}
}
