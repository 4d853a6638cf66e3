package evaluate

import (
	"slices"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
)

// tick is a denoiser that advances a fake clock by cost per call and
// records the order of the calls.
type tick struct {
	name  string
	cost  time.Duration
	clock *time.Time
	log   *[]string
}

func (d tick) Predict(x *tensor.Dense, _ float64, _ []int64) (*tensor.Dense, error) {
	*d.clock = d.clock.Add(d.cost)
	if n := len(*d.log); n == 0 || (*d.log)[n-1] != d.name {
		*d.log = append(*d.log, d.name)
	}
	return tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32)), nil
}

// TestTimePaired: on a fake clock where A costs three times B per call,
// TimePaired alternates A and B (ABBA…), skips the untimed round and
// reports the per-sample medians and a speed-up of exactly 3.
func TestTimePaired(t *testing.T) {
	clock := time.Unix(0, 0)
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return clock }
	var log []string
	a := tick{"A", 3 * time.Millisecond, &clock, &log}
	b := tick{"B", time.Millisecond, &clock, &log}
	s, err := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if err != nil {
		t.Fatal(err)
	}
	p, err := TimePaired(a, b, s, PairOptions{Sampler: "ddim", Steps: 4, Batch: 2, Rounds: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Rounds 0..3 run AB, BA, AB, BA: runs of one denoiser A B A B A (the
	// same order every round would give A B A B A B A B).
	if want := []string{"A", "B", "A", "B", "A"}; !slices.Equal(log, want) {
		t.Errorf("call order %v, want %v", log, want)
	}
	// 4 steps of one call each: 12 ms for A and 4 ms for B per batch of 2.
	if p.MsA != 6 || p.MsB != 2 || p.Speedup.Value != 3 || p.Speedup.Lo != 3 || p.Speedup.Hi != 3 || p.Rounds != 3 {
		t.Errorf("got %+v, want 6 and 2 ms per sample and a speed-up of 3 over 3 rounds", p)
	}
	// A at its own step count: 8 steps of A against 4 of B.
	if p, err := TimePaired(a, b, s, PairOptions{Sampler: "ddim", Steps: 4, ASampler: "dpmpp2m", ASteps: 8, Batch: 2, Rounds: 2}); err != nil || p.MsA != 12 || p.Speedup.Value != 6 {
		t.Errorf("A at 8 steps: %+v, %v; want 12 ms per sample and a speed-up of 6", p, err)
	}
	if _, err := TimePaired(a, b, s, PairOptions{Sampler: "ddim", Steps: 4, Batch: 2, Rounds: 0}); err == nil {
		t.Error("no error for zero rounds")
	}
	if _, err := TimePaired(a, b, s, PairOptions{Sampler: "ddim", Steps: 4, Batch: 2, Rounds: 1, Labels: []int64{1}}); err == nil {
		t.Error("no error for 1 label in a batch of 2")
	}
}
