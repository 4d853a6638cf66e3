package metrics

import (
	"fmt"
	"math"
	"slices"
)

// Paired compares two sample sets drawn from the same noise (a clean and a
// perturbed or approximated run): per sample the L2 distance ‖a−b‖₂ and the
// PSNR 10·log₁₀(range²/MSE) for images in [−1, 1] (range 2).
type Paired struct {
	L2   []float64
	PSNR []float64
}

// PairedDistances measures n pairs of images of per values each.
func PairedDistances(a, b []float32, n int) (Paired, error) {
	if len(a) != len(b) || n <= 0 || len(a)%n != 0 {
		return Paired{}, fmt.Errorf("paired: %d and %d values for %d samples", len(a), len(b), n)
	}
	per := len(a) / n
	p := Paired{L2: make([]float64, n), PSNR: make([]float64, n)}
	for i := 0; i < n; i++ {
		var s float64
		for j := i * per; j < (i+1)*per; j++ {
			d := float64(a[j]) - float64(b[j])
			s += d * d
		}
		p.L2[i] = math.Sqrt(s)
		mse := s / float64(per)
		if mse == 0 {
			p.PSNR[i] = math.Inf(1)
		} else {
			p.PSNR[i] = 10 * math.Log10(4/mse)
		}
	}
	return p, nil
}

// MaxPSNR is the PSNR counted for a pair of identical images (whose PSNR is
// infinite), in dB: far above any difference a float32 image shows (a
// one-ulp change of one pixel is about 150 dB), so that a mean stays finite.
const MaxPSNR = 200.0

// CapPSNR returns a copy of PSNR values with the infinite ones (identical
// images) capped at MaxPSNR.
func CapPSNR(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Min(x, MaxPSNR)
	}
	return out
}

// Mean returns the mean of values with the 95% interval of Bootstrap cut
// to the values' range: a mean cannot leave [min, max], so neither does
// its interval (a distance's stays above 0, a share's inside [0, 1]). For
// a share of yes/no outcomes use Proportion, which is exact and has a
// width at 0% and 100%.
func Mean(values []float64, reps int, seed uint64) (Interval, error) {
	if len(values) == 0 {
		return Interval{}, fmt.Errorf("mean of no values")
	}
	iv, err := Bootstrap(len(values), reps, seed, func(idx []int) (float64, error) {
		var s float64
		for _, i := range idx {
			s += values[i]
		}
		return s / float64(len(idx)), nil
	})
	if err != nil {
		return Interval{}, err
	}
	iv.Lo, iv.Hi = math.Max(iv.Lo, slices.Min(values)), math.Min(iv.Hi, slices.Max(values))
	return iv, nil
}
