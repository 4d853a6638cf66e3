package metrics

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

// TestFIDAndKIDMatchScipy compares with scripts/reference/make_metrics_fixtures.py.
func TestFIDAndKIDMatchScipy(t *testing.T) {
	f, err := npzio.Read("testdata/fid.npz")
	if err != nil {
		t.Fatal(err)
	}
	x := Features{N: f["x"].Shape[0], Dim: f["x"].Shape[1], X: f["x"].F32}
	y := Features{N: f["y"].Shape[0], Dim: f["y"].Shape[1], X: f["y"].F32}
	sx, _ := ComputeStats(x)
	sy, _ := ComputeStats(y)
	fid, err := FrechetDistance(sx, sy)
	if err != nil {
		t.Fatal(err)
	}
	if want := f["fid"].F64[0]; math.Abs(fid-want) > 1e-6*math.Abs(want)+1e-8 {
		t.Errorf("FID %.10g, scipy %.10g", fid, want)
	}
	self, _ := FrechetDistance(sx, sx)
	if math.Abs(self) > 1e-8 {
		t.Errorf("FID of a set with itself %g", self)
	}
	if m, want := MMDPoly(x, y), f["mmd"].F64[0]; math.Abs(m-want) > 1e-9*math.Abs(want)+1e-12 {
		t.Errorf("MMD² %.10g, numpy %.10g", m, want)
	}
	mean, std, err := KID(x, y, 20, 200, 1)
	if err != nil || math.Abs(mean-f["mmd"].F64[0]) > 4*std/math.Sqrt(20)+0.01 {
		t.Errorf("KID %g ± %g, full-set MMD² %g (%v)", mean, std, f["mmd"].F64[0], err)
	}
}

func TestBootstrap(t *testing.T) {
	vals := make([]float64, 400)
	for i := range vals {
		vals[i] = float64(i%20) - 9.5 // mean 0, sd ≈ 5.77
	}
	iv, err := Bootstrap(len(vals), 500, 3, func(idx []int) (float64, error) {
		var s float64
		for _, i := range idx {
			s += vals[i]
		}
		return s / float64(len(idx)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The standard error is 5.77/20 ≈ 0.29: a 95% interval of about ±0.57.
	if iv.Value != 0 || iv.Lo > -0.45 || iv.Lo < -0.7 || iv.Hi < 0.45 || iv.Hi > 0.7 {
		t.Errorf("bootstrap interval %v", iv)
	}
}

func TestPairedDistances(t *testing.T) {
	a := []float32{0, 0, 0, 0, 1, 1, 1, 1}
	b := []float32{0, 0, 0, 0, 1, 1, 0, 1}
	p, err := PairedDistances(a, b, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Pair 0 is identical; pair 1 differs by 1 in one of 4 values: L2 1,
	// MSE 1/4, PSNR 10·log₁₀(4/(1/4)) = 12.04 dB.
	if p.L2[0] != 0 || !math.IsInf(p.PSNR[0], 1) || p.L2[1] != 1 || math.Abs(p.PSNR[1]-10*math.Log10(16)) > 1e-12 {
		t.Errorf("paired distances %+v", p)
	}
	if _, err := PairedDistances(a, b[:6], 2); err == nil {
		t.Error("sets of different sizes accepted")
	}
}

// TestFrechetToReference: the fast path equals the Fréchet distance of the
// features' statistics, for fewer and for more samples than dimensions.
func TestFrechetToReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	mk := func(n, d int, shift float64) Features {
		f := Features{N: n, Dim: d, X: make([]float32, n*d)}
		for i := range f.X {
			f.X[i] = float32(rng.NormFloat64()*(1+float64(i%d)/float64(d)) + shift)
		}
		return f
	}
	ref, _ := ComputeStats(mk(500, 24, 0))
	rr, err := ref.WithRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{5, 24, 100} {
		f := mk(n, 24, 0.3)
		s, _ := ComputeStats(f)
		want, _ := FrechetDistance(s, ref)
		got, err := FrechetToReference(f, rr)
		if err != nil {
			t.Fatal(err)
		}
		// The d×d path takes square roots of rounding-level eigenvalues where the
		// covariance is rank-deficient (n ≤ d), which adds about 1e-7 each.
		if math.Abs(got-want) > 1e-7*math.Abs(want)+1e-9 {
			t.Errorf("n=%d: %.12g, want %.12g", n, got, want)
		}
	}
	if _, err := FrechetToReference(mk(5, 24, 0), ref); err == nil {
		t.Error("a reference without its root accepted")
	}
}
