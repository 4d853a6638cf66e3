package nn

import (
	"math"
	"testing"
)

// TestGELU32 compares the float32 GELU and its derivative with the exact
// formulas in float64 over [−10, 10].
func TestGELU32(t *testing.T) {
	var worstF, worstD float64
	for i := -200000; i <= 200000; i++ {
		x := float64(i) / 20000
		f, df := gelu32(float32(x))
		wf := 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
		wd := 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
		worstF = math.Max(worstF, math.Abs(float64(f)-wf)/math.Max(1, math.Abs(wf)))
		worstD = math.Max(worstD, math.Abs(float64(df)-wd))
	}
	t.Logf("worst error: GELU %.3g (relative beyond 1), derivative %.3g", worstF, worstD)
	if worstF > 1e-6 || worstD > 1e-6 {
		t.Errorf("GELU error %.3g, derivative error %.3g: want both under 1e-6", worstF, worstD)
	}
	for _, v := range []float32{-100, -1e30, float32(math.Inf(-1))} {
		if f, df := gelu32(v); f != 0 && !(math.Abs(float64(f)) < 1e-30) || math.IsNaN(float64(df)) {
			t.Errorf("gelu32(%g) = %g, %g", v, f, df)
		}
	}
}
