package simd

import (
	"math"
	"testing"
)

func TestMeasurePeak(t *testing.T) {
	for _, p := range Available() {
		pk, err := MeasurePeak(p, 1)
		if p == PureGo {
			if err == nil {
				t.Errorf("the pure-Go path has no probe, but MeasurePeak gave %v", pk)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		// Any x86 core of the last decade: 0.5–6 GHz, 0.5–2 vector FMAs
		// per cycle (a timesharing CI machine may halve the rate).
		if pk.GHz < 0.5 || pk.GHz > 6 || pk.FMAPerCycle < 0.25 || pk.FMAPerCycle > 2.2 {
			t.Errorf("%s: implausible %v", p, pk)
		}
		want := 2 * float64(pk.Lanes) * pk.FMAPerCycle * pk.GHz
		if math.Abs(pk.GFLOPS-want) > 1e-6*want {
			t.Errorf("%s: GFLOPS %v, want 2·lanes·FMA/cycle·GHz = %v", p, pk.GFLOPS, want)
		}
		t.Log(pk)
	}
	if _, err := MeasurePeak(Path("sse"), 1); err == nil {
		t.Error("an unknown path measured without an error")
	}
}
