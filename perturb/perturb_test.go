package perturb

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/unet"
)

// TestMixKeepsStatistics: per channel, the perturbed map keeps the mean and
// standard deviation up to the sampling error of the noise. With n = H·W
// values and ε ~ N(0, 1): the mean moves by √(1−a)·s·mean(ε), whose standard
// deviation is √(1−a)·s/√n; the variance becomes a·s² + (1−a)·s²·var(ε) +
// 2√(a(1−a))·s·cov(f−m, ε), whose relative error has standard deviation
// about (1−a)·√(2/n) + 2√(a(1−a))/√n, and the standard deviation's half of
// that. The test allows six of those standard deviations.
func TestMixKeepsStatistics(t *testing.T) {
	const c, hw = 5, 64 * 64
	rng := rand.New(rand.NewPCG(1, 2))
	orig := make([]float32, c*hw)
	for ch := 0; ch < c; ch++ {
		m, s := float64(ch)-2, 0.5+float64(ch)
		for i := 0; i < hw; i++ {
			// skewed, not Gaussian: the mix must not assume a shape
			v := rng.ExpFloat64() - 1
			orig[ch*hw+i] = float32(m + s*v)
		}
	}
	stats := func(x []float32) (float64, float64) {
		var s, q float64
		for _, v := range x {
			s += float64(v)
		}
		m := s / float64(len(x))
		for _, v := range x {
			q += (float64(v) - m) * (float64(v) - m)
		}
		return m, math.Sqrt(q / float64(len(x)))
	}
	n := float64(hw)
	for _, a := range []float64{0, 0.3, 0.7, 1} {
		f := slices.Clone(orig)
		Mix(f, c, hw, a, rand.New(rand.NewPCG(7, 8)))
		if a == 1 && !slices.Equal(f, orig) {
			t.Errorf("a = 1 changed the map")
		}
		for ch := 0; ch < c; ch++ {
			m0, s0 := stats(orig[ch*hw : (ch+1)*hw])
			m1, s1 := stats(f[ch*hw : (ch+1)*hw])
			meanTol := 6 * math.Sqrt(1-a) * s0 / math.Sqrt(n)
			stdTol := 6 * 0.5 * ((1-a)*math.Sqrt(2/n) + 2*math.Sqrt(a*(1-a))/math.Sqrt(n))
			if math.Abs(m1-m0) > meanTol+1e-6*math.Abs(m0)+1e-6 {
				t.Errorf("a=%g channel %d: mean %g → %g (tolerance %g)", a, ch, m0, m1, meanTol)
			}
			if math.Abs(s1/s0-1) > stdTol+1e-6 {
				t.Errorf("a=%g channel %d: std %g → %g (relative tolerance %g)", a, ch, s0, s1, stdTol)
			}
		}
	}
	// a = 0 keeps nothing of the map but its statistics.
	f := slices.Clone(orig)
	Mix(f, c, hw, 0, rand.New(rand.NewPCG(7, 8)))
	var cov, v0, v1 float64
	for i := 0; i < hw; i++ {
		cov += float64(orig[i]+2) * float64(f[i]+2)
		v0 += float64(orig[i]+2) * float64(orig[i]+2)
		v1 += float64(f[i]+2) * float64(f[i]+2)
	}
	if r := cov / math.Sqrt(v0*v1); math.Abs(r) > 6/math.Sqrt(n) {
		t.Errorf("a = 0: correlation with the original map %g", r)
	}
}

// tinyMNIST is a small random class-conditional 1×32×32 model.
func tinyMNIST(t *testing.T) *unet.Model {
	t.Helper()
	c, err := unet.ConfigFrom("mnist_tiny") // a small untrained model
	if err != nil {
		t.Fatal(err)
	}
	m, err := unet.New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPerturbedSamples: a perturbed sample is the same at batch sizes 1 and
// 7 (with and without guidance), a = 1 reproduces the unperturbed sample
// bit for bit, and a < 1 changes it, only from step k on.
func TestPerturbedSamples(t *testing.T) {
	m := tinyMNIST(t)
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	labels := []int64{0, 1, 2, 3, 4, 5, 6}
	draw := func(spec *Perturbation, batch int, guidance float64) []float32 {
		t.Helper()
		md := &diffusion.ModelDenoiser{Model: m}
		var d diffusion.Denoiser = md
		if spec != nil {
			p, err := New(md, *spec, m.Taps(), 6)
			if err != nil {
				t.Fatal(err)
			}
			d = p
		}
		g, err := diffusion.ClassGuidance(m.Config.NumClasses(), guidance)
		if err != nil {
			t.Fatal(err)
		}
		d, err = diffusion.Guide(d, g)
		if err != nil {
			t.Fatal(err)
		}
		x, err := diffusion.SampleMany(d, s, []int{1, 32, 32}, 7, batch, diffusion.Options{Sampler: "dpmpp2m", Steps: 6, Seed: 5, Cond: diffusion.Labels(labels)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return x.Data().([]float32)
	}
	for _, g := range []float64{1, 2.5} {
		clean := draw(nil, 7, g)
		spec := Perturbation{Tap: "up_blocks.1", From: 2, A: 0.3}
		p7, p1 := draw(&spec, 7, g), draw(&spec, 1, g)
		if !slices.Equal(p7, p1) {
			t.Errorf("guidance %g: perturbed samples differ between batch sizes 7 and 1", g)
		}
		if slices.Equal(p7, clean) {
			t.Errorf("guidance %g: the perturbation changed nothing", g)
		}
		one := Perturbation{Tap: "up_blocks.1", From: 0, A: 1}
		if !slices.Equal(draw(&one, 3, g), clean) {
			t.Errorf("guidance %g: a = 1 is not the unperturbed sample", g)
		}
	}
	// Only steps from k on are touched: a perturbation from the last step
	// differs from one from the first.
	last := Perturbation{Tap: "mid_block", From: 5, A: 0}
	first := Perturbation{Tap: "mid_block", From: 0, A: 0}
	if slices.Equal(draw(&last, 7, 1), draw(&first, 7, 1)) {
		t.Error("k = 5 and k = 0 give the same samples")
	}
}

func TestPerturbationErrors(t *testing.T) {
	taps := tinyMNIST(t).Taps()
	for _, c := range []struct {
		s    Perturbation
		want string
	}{
		{Perturbation{Tap: "up_blocks.9", From: 0, A: 0.3}, "the model's taps are [conv_in down_blocks.0"},
		{Perturbation{Tap: "mid_block", From: 20, A: 0.3}, "k = 0 to 19"},
		{Perturbation{Tap: "mid_block", From: -1, A: 0.3}, "k = 0 to 19"},
		{Perturbation{Tap: "mid_block", From: 0, A: 1.5}, "[0, 1]"},
		{Perturbation{Tap: "mid_block", From: 0, A: math.NaN()}, "[0, 1]"},
	} {
		if err := c.s.Validate(taps, 20); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error mentioning %q", c.s, err, c.want)
		}
	}
}

// TestPrefixReplay: a perturbed run that replays the unperturbed run's
// clean steps from its Prefix gives the same samples bit for bit as one
// that recomputes them, runs the U-Net only from step k on, and falls back
// to computing when its batches are not the recorded ones.
func TestPrefixReplay(t *testing.T) {
	m := tinyMNIST(t)
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	labels := []int64{0, 1, 2, 3, 4, 5, 6}
	opts := diffusion.Options{Sampler: "dpmpp2m", Steps: 6, Seed: 5, Cond: diffusion.Labels(labels)}
	prefix := NewPrefix(6)
	clean, err := diffusion.SampleMany(prefix.Recorder(&diffusion.ModelDenoiser{Model: m}), s, []int{1, 32, 32}, 7, 7, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if prefix.Len() != 6 {
		t.Fatalf("recorded %d outputs, want one per step of one batch (6)", prefix.Len())
	}
	for _, from := range []int{0, 2, 5} {
		draw := func(p *Prefix, batch int) ([]float32, int64) {
			md := &diffusion.ModelDenoiser{Model: m}
			pd, err := New(md, Perturbation{Tap: "mid_block", From: from, A: 0.3}, m.Taps(), 6)
			if err != nil {
				t.Fatal(err)
			}
			pd.Prefix = p
			x, err := diffusion.SampleMany(pd, s, []int{1, 32, 32}, 7, batch, opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			return x.Data().([]float32), md.FLOPs()
		}
		full, fullFLOPs := draw(nil, 7)
		replayed, replayFLOPs := draw(prefix, 7)
		if !slices.Equal(full, replayed) {
			t.Errorf("k = %d: the replayed run differs from the computed one", from)
		}
		if want := fullFLOPs * int64(6-from) / 6; replayFLOPs != want {
			t.Errorf("k = %d: the U-Net ran %d FLOPs with the prefix, want %d (steps %d to 6 only)", from, replayFLOPs, want, from+1)
		}
		if other, otherFLOPs := draw(prefix, 3); !slices.Equal(other, full) || otherFLOPs != fullFLOPs {
			t.Errorf("k = %d: batches of 3 against a prefix of batches of 7: same samples %v, FLOPs %d of %d", from, slices.Equal(other, full), otherFLOPs, fullFLOPs)
		}
	}
	// The recorder passes the clean run through unchanged.
	plain, err := diffusion.SampleMany(&diffusion.ModelDenoiser{Model: m}, s, []int{1, 32, 32}, 7, 7, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plain.Data().([]float32), clean.Data().([]float32)) {
		t.Error("the recorder changed the unperturbed run")
	}
}
