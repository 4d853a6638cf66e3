package evaluate

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/metrics"
)

// PairedTiming is the wall time of a reference sampler A and a method B
// drawing the same batch in alternating rounds (A then B, then B then A,
// and so on), so that a machine that speeds up or slows down during the
// measurement (another job, frequency scaling) weighs on both alike.
type PairedTiming struct {
	Batch  int `json:"batch"`
	Rounds int `json:"rounds"`
	// MsA and MsB are the medians over rounds of the wall time per sample.
	MsA float64 `json:"ms_per_sample_a"`
	MsB float64 `json:"ms_per_sample_b"`
	// Speedup is A's time over B's: the median over rounds of each round's
	// ratio, with the smallest and largest round as Lo and Hi.
	Speedup metrics.Interval `json:"speedup"`
	// MedianCI is a distribution-free confidence interval of the median
	// ratio, from the rounds' ordered ratios (MedianCIOrder); its Value is
	// the coverage, 0 (and Lo = Hi = 0) below 6 rounds, where no pair of
	// order statistics reaches 95%.
	MedianCI metrics.Interval `json:"speedup_median_ci"`
	// GFLOPsA and GFLOPsB are the two methods' costs per sample, counted
	// over the rounds.
	GFLOPsA float64 `json:"gflops_per_sample_a,omitempty"`
	GFLOPsB float64 `json:"gflops_per_sample_b,omitempty"`
}

// TimePaired times a reference a and a method b drawing the first
// batch of the setup's samples (the same noise and conditioning) in rounds
// alternating which goes first: TimeRuns with each drawing the batch with
// its own sampler and step count (a teacher at 8 steps against a method at
// 16). It is how a wall-time speed-up is quoted in this toolkit: both sides
// in one process, interleaved, never two runs started at different times.
func TimePaired(a, b Method, s Setup, batch, rounds int) (PairedTiming, error) {
	if batch < 1 || rounds < 1 {
		return PairedTiming{}, fmt.Errorf("paired timing: want a positive batch and round count, got %d and %d", batch, rounds)
	}
	if err := s.Validate(); err != nil {
		return PairedTiming{}, err
	}
	s = s.First(batch)
	s.Batch, s.Progress = s.N, nil
	timed := func(m Method) Timed {
		return Timed{Name: m.Name, Denoiser: m.Denoiser, Run: func() error {
			_, err := diffusion.SampleMany(m.Denoiser, s.Noise, s.Shape, s.N, s.N, m.options(s), nil)
			return err
		}}
	}
	return TimeRuns(timed(a), timed(b), s.N, rounds)
}

// Timed is one side of a paired timing: Run does the work once (draws or
// edits a batch of samples); Denoiser, when set, is the denoiser whose
// FLOP counter (diffusion.CountedFLOPs) the work runs through.
type Timed struct {
	Name     string
	Run      func() error
	Denoiser diffusion.Denoiser
}

// TimeRuns times a and b, each doing the same batch of samples' work, in
// rounds + 1 alternating rounds (A then B, then B then A, and so on), the
// first of each untimed (graphs compile on first use), and returns the
// median wall time per sample of each, the median ratio A over B with its
// range and distribution-free interval, and each side's counted GFLOPs per
// sample (0 without a Denoiser). Work that is not one sampling run, such
// as an edit made clause by clause, is timed this way.
func TimeRuns(a, b Timed, batch, rounds int) (PairedTiming, error) {
	if batch < 1 || rounds < 1 {
		return PairedTiming{}, fmt.Errorf("paired timing: want a positive batch and round count, got %d and %d", batch, rounds)
	}
	if a.Run == nil || b.Run == nil {
		return PairedTiming{}, fmt.Errorf("paired timing: %q or %q has nothing to run", a.Name, b.Name)
	}
	run := func(m Timed) (float64, error) {
		start := now()
		err := m.Run()
		return float64(now().Sub(start).Microseconds()) / 1e3 / float64(batch), err
	}
	count := func(m Timed) int64 {
		if m.Denoiser == nil {
			return 0
		}
		f, _ := diffusion.CountedFLOPs(m.Denoiser)
		return f
	}
	fa, fb := count(a), count(b)
	var ta, tb, ratio []float64
	for i := 0; i <= rounds; i++ {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		t1, err := run(first)
		if err != nil {
			return PairedTiming{}, fmt.Errorf("%s: %w", first.Name, err)
		}
		t2, err := run(second)
		if err != nil {
			return PairedTiming{}, fmt.Errorf("%s: %w", second.Name, err)
		}
		if i%2 == 1 {
			t1, t2 = t2, t1
		}
		if i == 0 {
			continue
		}
		ta, tb, ratio = append(ta, t1), append(tb, t2), append(ratio, t1/t2)
	}
	runs := float64(batch * (rounds + 1))
	p := PairedTiming{
		Batch: batch, Rounds: rounds, GFLOPsA: float64(count(a)-fa) / runs / 1e9, GFLOPsB: float64(count(b)-fb) / runs / 1e9,
		MsA: Median(ta), MsB: Median(tb),
		Speedup: metrics.Interval{Value: Median(ratio), Lo: slices.Min(ratio), Hi: slices.Max(ratio)},
	}
	if k, cover := MedianCIOrder(len(ratio)); k > 0 {
		p.MedianCI = metrics.Interval{Value: cover, Lo: ratio[k-1], Hi: ratio[len(ratio)-k]}
	}
	return p, nil
}

// MedianCIOrder returns the order k of the distribution-free confidence
// interval of a median from n independent draws, [x(k), x(n+1-k)] of the
// sorted draws (1-based), with the largest k whose coverage
// 1 - 2·P(Binomial(n, ½) < k) is at least 95%, and that coverage; k is 0
// when n < 6. Rounds of a paired timing are not strictly independent (a
// machine drifts slowly), which the alternation only partly undoes.
func MedianCIOrder(n int) (k int, coverage float64) {
	// log of n!/2^n, and P(Binomial(n, ½) ≤ i) summed term by term.
	ln, _ := math.Lgamma(float64(n + 1))
	ln -= float64(n) * math.Ln2
	tail := 0.0
	for i := 0; i < n/2; i++ {
		li, _ := math.Lgamma(float64(i + 1))
		lr, _ := math.Lgamma(float64(n - i + 1))
		tail += math.Exp(ln - li - lr)
		if 1-2*tail < 0.95 {
			break
		}
		k, coverage = i+1, 1-2*tail
	}
	return k, coverage
}

// now is the clock TimePaired reads (a test replaces it).
var now = time.Now

// Median returns the median of v (the mean of the middle two for an even
// count); v is sorted in place.
func Median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
