package metrics

import (
	"math"
	"testing"
)

// TestSpectrum: a checkerboard (0.5 cycles per pixel) is all high
// frequency, a constant and a one-cycle wave are none, and the total
// energy is h·w times the sum of squares (Parseval).
func TestSpectrum(t *testing.T) {
	const h, w = 8, 16
	s := NewSpectrum(h, w)
	mk := func(f func(i, j int) float64) []float32 {
		x := make([]float32, h*w)
		for i := 0; i < h; i++ {
			for j := 0; j < w; j++ {
				x[i*w+j] = float32(f(i, j))
			}
		}
		return x
	}
	for _, c := range []struct {
		name  string
		x     []float32
		share float64
	}{
		{"checkerboard", mk(func(i, j int) float64 { return float64(1 - 2*((i+j)%2)) }), 1},
		{"constant", mk(func(i, j int) float64 { return 0.7 }), 0},
		{"one cycle", mk(func(i, j int) float64 { return math.Sin(2 * math.Pi * float64(j) / w) }), 0},
		{"0.375 cycles/pixel", mk(func(i, j int) float64 { return math.Cos(2 * math.Pi * 0.375 * float64(j)) }), 1},
	} {
		high, total, err := s.HighEnergy(c.x, 0.25)
		if err != nil {
			t.Fatal(err)
		}
		var sq float64
		for _, v := range c.x {
			sq += float64(v) * float64(v)
		}
		if math.Abs(total-h*w*sq) > 1e-6*total+1e-9 {
			t.Errorf("%s: total %g, Parseval says %g", c.name, total, h*w*sq)
		}
		if math.Abs(high/total-c.share) > 1e-9 {
			t.Errorf("%s: high-frequency share %g, want %g", c.name, high/total, c.share)
		}
	}
	if _, _, err := s.HighEnergy(make([]float32, 3), 0.25); err == nil {
		t.Error("wrong size accepted")
	}
}
