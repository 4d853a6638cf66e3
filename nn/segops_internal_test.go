package nn

import (
	"math"
	"testing"
)

// TestReLUBackwardSpecialValues checks the branch-free ReLU gradient
// against the rule it replaces (grad where x > 0, else 0) on the values a
// sign test can get wrong: signed zeros, infinities, NaNs of either sign,
// subnormals.
func TestReLUBackwardSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	x := []float32{0, float32(math.Copysign(0, -1)), 1, -1, inf, -inf, nan, -nan, 1e-45, -1e-45, math.MaxFloat32, -math.MaxFloat32, 0.5}
	x = append(x, math.Float32frombits(0x7f800001), math.Float32frombits(0xff800001), math.Float32frombits(0x7fffffff))
	g := make([]float32, len(x))
	for i := range g {
		g[i] = float32(i) + 1.5
	}
	out := make([]float32, len(x))
	reluBackward(out, x, g)
	for i, v := range x {
		want := float32(0)
		if v > 0 {
			want = g[i]
		}
		if math.Float32bits(out[i]) != math.Float32bits(want) {
			t.Errorf("x = %v (%#x): gradient %v, want %v", v, math.Float32bits(v), out[i], want)
		}
	}
}
