package metrics

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// TestProportionCoverage: the proportion interval covers the true share at
// least 93% of the time for a nominal 95% (Clopper–Pearson's guarantee is
// 95%) at n = 8, 64 and 1000 and true shares 0.5, 0.9 and 1.0, and never
// leaves [0, 1]. The coverage is computed exactly, summing the binomial
// probabilities of the outcomes whose interval holds the share, and checked
// against a seeded simulation of 4000 studies per cell.
func TestProportionCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{8, 64, 1000} {
		ivs := make([]Interval, n+1)
		for k := range ivs {
			iv, err := Proportion(k, n)
			if err != nil {
				t.Fatal(err)
			}
			if iv.Lo < 0 || iv.Hi > 1 || iv.Lo > iv.Value || iv.Value > iv.Hi || !(iv.Hi > iv.Lo) {
				t.Fatalf("%d of %d: %v", k, n, iv)
			}
			ivs[k] = iv
		}
		for _, p := range []float64{0.5, 0.9, 1.0} {
			b := distuv.Binomial{N: float64(n), P: p}
			exact := 0.0
			for k, iv := range ivs {
				if iv.Lo <= p && p <= iv.Hi {
					switch {
					case p < 1:
						exact += b.Prob(float64(k))
					case k == n: // every study of a certain outcome sees n of n
						exact++
					}
				}
			}
			const trials = 4000
			hit := 0
			for range trials {
				k := 0
				for range n {
					if rng.Float64() < p {
						k++
					}
				}
				if ivs[k].Lo <= p && p <= ivs[k].Hi {
					hit++
				}
			}
			sim := float64(hit) / trials
			t.Logf("n %4d, share %.1f: coverage %.4f exact, %.4f simulated", n, p, exact, sim)
			if exact < 0.93 || sim < 0.93 {
				t.Errorf("n %d, share %.1f: coverage %.4f exact, %.4f simulated; want ≥ 0.93", n, p, exact, sim)
			}
			if math.Abs(exact-sim) > 0.02 {
				t.Errorf("n %d, share %.1f: simulation %.4f disagrees with the exact %.4f", n, p, sim, exact)
			}
		}
	}
}

// TestIntervalsInRange: 4 of 4 has an interval of width (not the
// zero-width [1, 1] of a bootstrap), 7 of 8 one below 1, and the mean of
// values in [0, 1] an interval inside [0, 1] (the normal bootstrap gave
// 0.875 [0.640, 1.110]).
func TestIntervalsInRange(t *testing.T) {
	iv, err := Hits([]bool{true, true, true, true})
	if err != nil || iv.Value != 1 || iv.Hi != 1 || math.Abs(iv.Lo-0.3976) > 1e-3 {
		t.Errorf("4 of 4: %v, %v; want 1 [0.398, 1]", iv, err)
	}
	iv, err = Proportion(7, 8)
	if err != nil || iv.Hi >= 1 || math.Abs(iv.Lo-0.4735) > 1e-3 || math.Abs(iv.Hi-0.9968) > 1e-3 {
		t.Errorf("7 of 8: %v, %v; want 0.875 [0.473, 0.997]", iv, err)
	}
	for _, v := range [][]float64{{0, 1, 1, 1, 1, 1, 1, 1}, {0.5, 1, 1, 1, 0.75, 1, 1, 1}, {0, 0, 0, 0.1}} {
		m, err := Mean(v, 200, 3)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range v {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		if m.Lo < lo || m.Hi > hi || m.Lo > m.Value || m.Value > m.Hi {
			t.Errorf("mean of %v: %v leaves [%g, %g] or misses its value", v, m, lo, hi)
		}
	}
	for _, c := range [][2]int{{-1, 4}, {5, 4}, {0, 0}} {
		if _, err := Proportion(c[0], c[1]); err == nil {
			t.Errorf("Proportion(%d, %d): no error", c[0], c[1])
		}
	}
}
