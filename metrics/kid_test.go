package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// discrete is a distribution over a few fixed support points, so that the
// true squared MMD of two such distributions is a finite sum:
// Σ_ab p_a p_b k(z_a,z_b) + Σ_ab q_a q_b k(z_a,z_b) − 2 Σ_ab p_a q_b k(z_a,z_b).
type discrete struct {
	z    [][]float32
	p, q []float64
}

func (d discrete) truth() float64 {
	k := func(a, b []float32) float64 {
		var s float64
		for i, v := range a {
			s += float64(v) * float64(b[i])
		}
		s = s/float64(len(a)) + 1
		return s * s * s
	}
	var pp, qq, pq float64
	for a := range d.z {
		for b := range d.z {
			kab := k(d.z[a], d.z[b])
			pp += d.p[a] * d.p[b] * kab
			qq += d.q[a] * d.q[b] * kab
			pq += d.p[a] * d.q[b] * kab
		}
	}
	return pp + qq - 2*pq
}

func (d discrete) draw(rng *rand.Rand, w []float64, n int) Features {
	f := Features{N: n, Dim: len(d.z[0])}
	for i := 0; i < n; i++ {
		u, a := rng.Float64(), 0
		for ; a < len(w)-1 && u >= w[a]; a++ {
			u -= w[a]
		}
		f.X = append(f.X, d.z[a]...)
	}
	return f
}

func newDiscrete(rng *rand.Rand, points, dim int, shift float64) discrete {
	d := discrete{}
	for i := 0; i < points; i++ {
		z := make([]float32, dim)
		for j := range z {
			z[j] = float32(rng.NormFloat64())
		}
		d.z = append(d.z, z)
	}
	norm := func(w []float64) []float64 {
		var s float64
		for _, v := range w {
			s += v
		}
		for i := range w {
			w[i] /= s
		}
		return w
	}
	for i := 0; i < points; i++ {
		d.p = append(d.p, 0.5+rng.Float64())
		d.q = append(d.q, 0.5+rng.Float64()+shift*float64(i%3))
	}
	d.p = norm(d.p)
	if shift == 0 {
		d.q = append([]float64(nil), d.p...)
	} else {
		d.q = norm(d.q)
	}
	return d
}

// TestKIDIntervalCoverage: the jackknife interval of KIDInterval covers
// the true squared MMD — known exactly for distributions over a few
// support points — in at least 93% of 400 simulated pairs of sets, when
// the distributions agree (true value 0, the case of a model that matches
// its data) and when they differ; the subset interval KID's standard
// deviation gave, which leaves out the generated set's own sampling error,
// covers it far less often (on the first 100 pairs).
func TestKIDIntervalCoverage(t *testing.T) {
	for _, c := range []struct {
		name  string
		shift float64
	}{{"same distribution", 0}, {"different distributions", 0.4}} {
		rng := rand.New(rand.NewPCG(7, uint64(c.shift*10)))
		d := newDiscrete(rng, 25, 16, c.shift)
		truth := d.truth()
		const reps, m, r = 400, 120, 300
		var hit, oldHit []bool
		var sumWidth float64
		for i := 0; i < reps; i++ {
			x, y := d.draw(rng, d.p, m), d.draw(rng, d.q, r)
			iv, err := KIDInterval(x, y)
			if err != nil {
				t.Fatal(err)
			}
			hit = append(hit, iv.Lo <= truth && truth <= iv.Hi)
			sumWidth += iv.Hi - iv.Lo
			if i < 100 { // the subset interval, on the first 100 pairs
				mean, std, err := KID(x, y, 20, 100, uint64(i))
				if err != nil {
					t.Fatal(err)
				}
				se := 1.96 * std / math.Sqrt(20)
				oldHit = append(oldHit, mean-se <= truth && truth <= mean+se)
			}
		}
		cov, err := Hits(hit)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := Hits(oldHit)
		t.Logf("%s: true MMD² %.4g; jackknife interval covers it in %.3f [%.3f, %.3f] of %d (mean width %.3g); the subset interval in %.3f",
			c.name, truth, cov.Value, cov.Lo, cov.Hi, reps, sumWidth/reps, old.Value)
		if cov.Value < 0.93 {
			t.Errorf("%s: coverage %.3f below 0.93", c.name, cov.Value)
		}
		if old.Value >= cov.Value {
			t.Errorf("%s: the subset interval covers as often (%.3f) as the jackknife (%.3f)", c.name, old.Value, cov.Value)
		}
	}
}

// TestKIDIntervalExact: on small sets the estimate is the unbiased MMD²
// (MMDPoly) and the jackknife's delete-one values are the estimator on
// the sets without that row, computed directly.
func TestKIDIntervalExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	mk := func(n int) Features {
		f := Features{N: n, Dim: 5}
		for i := 0; i < n*5; i++ {
			f.X = append(f.X, float32(rng.NormFloat64()))
		}
		return f
	}
	x, y := mk(7), mk(9)
	iv, err := KIDInterval(x, y)
	if err != nil {
		t.Fatal(err)
	}
	want := MMDPoly(x, y)
	if math.Abs(iv.Value-want) > 1e-9*(1+math.Abs(want)) {
		t.Fatalf("estimate %.12g, MMDPoly %.12g", iv.Value, want)
	}
	jack := func(f Features, other Features, first bool) float64 {
		var vals []float64
		for i := 0; i < f.N; i++ {
			var idx []int
			for j := 0; j < f.N; j++ {
				if j != i {
					idx = append(idx, j)
				}
			}
			if first {
				vals = append(vals, MMDPoly(f.Subset(idx), other))
			} else {
				vals = append(vals, MMDPoly(other, f.Subset(idx)))
			}
		}
		var mean, ss float64
		for _, v := range vals {
			mean += v
		}
		mean /= float64(len(vals))
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		return ss * float64(len(vals)-1) / float64(len(vals))
	}
	se := math.Sqrt(jack(x, y, true) + jack(y, x, false))
	if math.Abs((iv.Hi-iv.Lo)/2-1.96*se) > 1e-9*(1+se) {
		t.Errorf("half-width %.12g, want 1.96 × %.12g", (iv.Hi-iv.Lo)/2, se)
	}
	if _, err := KIDInterval(mk(2), y); err == nil {
		t.Error("two rows accepted")
	}
}
