package evaluate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/metrics"
)

// tick is a denoiser that advances a fake clock by cost per call and
// records the order of the calls.
type tick struct {
	name  string
	cost  time.Duration
	clock *time.Time
	log   *[]string
	// With calls set, each call costs growth more per calls-per-run calls
	// before it (a denoiser slowing down run by run).
	calls       *int
	growth      time.Duration
	callsPerRun int
}

func (d tick) Predict(x *tensor.Dense, _ float64, _ diffusion.Cond) (*tensor.Dense, error) {
	cost := d.cost
	if d.calls != nil {
		cost += time.Duration(*d.calls/d.callsPerRun) * d.growth
		*d.calls++
	}
	*d.clock = d.clock.Add(cost)
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
	a := tick{name: "A", cost: 3 * time.Millisecond, clock: &clock, log: &log}
	b := tick{name: "B", cost: time.Millisecond, clock: &clock, log: &log}
	s, err := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if err != nil {
		t.Fatal(err)
	}
	ma, mb := Method{Name: "A", Denoiser: a, Sampler: "ddim", Steps: 4}, Method{Name: "B", Denoiser: b, Sampler: "ddim", Steps: 4}
	setup := Setup{Noise: s, Shape: []int{1, 2, 2}, N: 2, Batch: 2}
	p, err := TimePaired(ma, mb, setup, 2, 3)
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
	a8 := Method{Name: "A", Denoiser: a, Sampler: "dpmpp2m", Steps: 8}
	if p, err := TimePaired(a8, mb, setup, 2, 2); err != nil || p.MsA != 12 || p.Speedup.Value != 6 {
		t.Errorf("A at 8 steps: %+v, %v; want 12 ms per sample and a speed-up of 6", p, err)
	}
	if _, err := TimePaired(ma, mb, setup, 2, 0); err == nil {
		t.Error("no error for zero rounds")
	}
	bad := setup
	bad.Cond = diffusion.Labels([]int64{1})
	if _, err := TimePaired(ma, mb, bad, 2, 1); err == nil {
		t.Error("no error for 1 label in a batch of 2")
	}
}

// TestTimeRuns: work that is not one sampling run (two runs of a
// function each) timed on a fake clock: the alternation, the untimed first
// round, per-sample medians, the ratio, and GFLOPs only where a denoiser
// is given; nothing to run is an error.
func TestTimeRuns(t *testing.T) {
	clock := time.Unix(0, 0)
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return clock }
	var log []string
	work := func(name string, d time.Duration) func() error {
		return func() error { log = append(log, name); clock = clock.Add(d); return nil }
	}
	p, err := TimeRuns(Timed{Name: "A", Run: work("A", 10*time.Millisecond)}, Timed{Name: "B", Run: work("B", 4*time.Millisecond)}, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A", "B", "B", "A", "A", "B", "B", "A", "A", "B"}; !slices.Equal(log, want) {
		t.Errorf("call order %v, want %v", log, want)
	}
	if p.MsA != 5 || p.MsB != 2 || p.Speedup.Value != 2.5 || p.Rounds != 4 || p.Batch != 2 || p.GFLOPsA != 0 || p.GFLOPsB != 0 {
		t.Errorf("got %+v, want 5 and 2 ms per sample, a speed-up of 2.5 over 4 rounds, no FLOPs", p)
	}
	if _, err := TimeRuns(Timed{Name: "A"}, Timed{Name: "B", Run: work("B", time.Millisecond)}, 2, 1); err == nil || !strings.Contains(err.Error(), "nothing to run") {
		t.Errorf("no run: %v", err)
	}
	failing := Timed{Name: "C", Run: func() error { return fmt.Errorf("broken") }}
	if _, err := TimeRuns(Timed{Name: "A", Run: work("A", time.Millisecond)}, failing, 2, 1); err == nil || !strings.Contains(err.Error(), "C: broken") {
		t.Errorf("a failing run: %v", err)
	}
}

// TestMedianCI: the order of the median's confidence interval and its
// coverage against the binomial sums written out, and TimePaired picking
// those order statistics from the rounds' ratios.
func TestMedianCI(t *testing.T) {
	for _, c := range []struct {
		n, k  int
		cover float64
	}{
		{5, 0, 0}, {6, 1, 1 - 2.0/64}, {11, 2, 1 - 2*12.0/2048}, {31, 10, 0.9705506265163422},
	} {
		k, cover := MedianCIOrder(c.n)
		if k != c.k || math.Abs(cover-c.cover) > 1e-12 {
			t.Errorf("MedianCIOrder(%d) = %d, %.16g; want %d, %.16g", c.n, k, cover, c.k, c.cover)
		}
	}
	if k, cover := MedianCIOrder(3000); k == 0 || cover < 0.95 || cover > 0.96 {
		t.Errorf("MedianCIOrder(3000) = %d, %g: want a 95%%–96%% interval", k, cover)
	}
	s, err := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rounds int
		lo, hi float64 // B's runs lo and hi (1-based, the untimed run is 0)
	}{{5, 0, 0}, {6, 6, 1}, {11, 10, 2}} {
		clock := time.Unix(0, 0)
		defer func(f func() time.Time) { now = f }(now)
		now = func() time.Time { return clock }
		var log []string
		calls := 0
		a := tick{name: "A", cost: 3 * time.Millisecond, clock: &clock, log: &log}
		b := tick{name: "B", cost: time.Millisecond, clock: &clock, log: &log, calls: &calls, growth: 100 * time.Microsecond, callsPerRun: 4}
		p, err := TimePaired(Method{Name: "A", Denoiser: a, Sampler: "ddim", Steps: 4}, Method{Name: "B", Denoiser: b, Sampler: "ddim", Steps: 4},
			Setup{Noise: s, Shape: []int{1, 2, 2}, N: 2, Batch: 2}, 2, c.rounds)
		if err != nil {
			t.Fatal(err)
		}
		// Run i of B costs 4·(1+0.1·i) ms for 2 samples; A 6 ms per sample.
		ratio := func(i float64) float64 { return 6 / (2 + 0.2*i) }
		if c.lo == 0 {
			if p.MedianCI != (metrics.Interval{}) {
				t.Errorf("%d rounds: interval %+v, want none", c.rounds, p.MedianCI)
			}
			continue
		}
		_, cover := MedianCIOrder(c.rounds)
		if math.Abs(p.MedianCI.Lo-ratio(c.lo)) > 1e-12 || math.Abs(p.MedianCI.Hi-ratio(c.hi)) > 1e-12 || p.MedianCI.Value != cover {
			t.Errorf("%d rounds: interval %+v, want [%g, %g] at %g", c.rounds, p.MedianCI, ratio(c.lo), ratio(c.hi), cover)
		}
		if m := ratio(float64(c.rounds+1) / 2); math.Abs(p.Speedup.Value-m) > 1e-12 && c.rounds%2 == 1 {
			t.Errorf("%d rounds: median %g, want %g", c.rounds, p.Speedup.Value, m)
		}
	}
}
