package clockstudy

import (
	"encoding/json"
	"testing"

	"github.com/clockwork-go/clockwork/metrics"
)

// TestSameResult: two results of one cell made in different adaptor
// directories, on different hosts and at different speeds are the same
// result (merge takes either); a different measurement is not.
func TestSameResult(t *testing.T) {
	base := func() Result {
		return Result{N: 8, GFLOPs: 2.5, MsPerSample: 3, Host: "a",
			Quality: metrics.Quality{FID: metrics.Interval{Value: 40, Lo: 30, Hi: 50}},
			L2:      &metrics.Interval{Value: 3, Lo: 2, Hi: 4},
			Adaptor: &AdaptorInfo{Dir: "runs/adaptors/x/resnet-1", Params: 100, ValLoss: 0.02, Epochs: 3, Seconds: 12}}
	}
	enc := func(r Result) json.RawMessage {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := base()
	other.MsPerSample, other.Host = 5, "b"
	other.Adaptor.Dir, other.Adaptor.Seconds = "/elsewhere/adaptors/resnet-1", 99
	if !SameResult(enc(base()), enc(other)) {
		t.Error("results that differ only in where and how fast they were made are not the same")
	}
	for name, change := range map[string]func(*Result){
		"FID":                func(r *Result) { r.FID.Value = 41 },
		"adaptor's val loss": func(r *Result) { r.Adaptor.ValLoss = 0.03 },
		"adaptor's size":     func(r *Result) { r.Adaptor.Params = 101 },
		"L2":                 func(r *Result) { r.L2.Hi = 4.5 },
		"no adaptor":         func(r *Result) { r.Adaptor = nil },
		"samples":            func(r *Result) { r.N = 9 },
	} {
		r := base()
		change(&r)
		if SameResult(enc(base()), enc(r)) {
			t.Errorf("a different %s is the same result", name)
		}
	}
}
