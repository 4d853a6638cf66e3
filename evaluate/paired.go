package evaluate

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/metrics"
)

// PairOptions describe a paired timing of two samplers.
type PairOptions struct {
	// Sampler, Steps, Spacing, Eta and Seed are the sampler's
	// (diffusion.Options); both denoisers draw the same batch from them.
	Sampler string
	Steps   int
	Spacing string
	Eta     float64
	Seed    uint64
	// Batch samples are drawn per run; Labels (Batch of them, or nil for an
	// unconditional model) are their classes.
	Batch  int
	Labels []int64
	// ASampler and ASteps, when set, are A's sampler and step count where
	// they differ from the method's (a teacher at 8 steps against a method
	// at 16).
	ASampler string
	ASteps   int
	// Rounds timed rounds follow one untimed round (graphs compile on
	// first use).
	Rounds int
}

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
}

// TimePaired times a and b on the same batch in o.Rounds alternating rounds
// (after one untimed round of each). It is how a wall-time speed-up is
// quoted in this toolkit: both sides in one process, interleaved, never two
// runs started at different times.
func TimePaired(a, b diffusion.Denoiser, s *diffusion.Schedule, o PairOptions) (PairedTiming, error) {
	if o.Batch < 1 || o.Rounds < 1 {
		return PairedTiming{}, fmt.Errorf("paired timing: want a positive batch and round count, got %d and %d", o.Batch, o.Rounds)
	}
	if o.Labels != nil && len(o.Labels) != o.Batch {
		return PairedTiming{}, fmt.Errorf("paired timing: %d labels for a batch of %d", len(o.Labels), o.Batch)
	}
	optsB := diffusion.Options{Sampler: o.Sampler, Steps: o.Steps, Spacing: o.Spacing, Eta: o.Eta, Seed: o.Seed}
	optsA := optsB
	if o.ASampler != "" && o.ASampler != o.Sampler {
		optsA.Sampler, optsA.Spacing = o.ASampler, ""
	}
	if o.ASteps > 0 {
		optsA.Steps = o.ASteps
	}
	run := func(d diffusion.Denoiser, opts diffusion.Options) (float64, error) {
		start := now()
		_, err := diffusion.SampleMany(d, s, []int{1, 32, 32}, o.Batch, o.Batch, o.Labels, opts, nil)
		return float64(now().Sub(start).Microseconds()) / 1e3 / float64(o.Batch), err
	}
	var ta, tb, ratio []float64
	for i := 0; i <= o.Rounds; i++ {
		first, second, o1, o2 := a, b, optsA, optsB
		if i%2 == 1 {
			first, second, o1, o2 = b, a, optsB, optsA
		}
		t1, err := run(first, o1)
		if err != nil {
			return PairedTiming{}, err
		}
		t2, err := run(second, o2)
		if err != nil {
			return PairedTiming{}, err
		}
		if i%2 == 1 {
			t1, t2 = t2, t1
		}
		if i == 0 {
			continue
		}
		ta, tb, ratio = append(ta, t1), append(tb, t2), append(ratio, t1/t2)
	}
	p := PairedTiming{
		Batch: o.Batch, Rounds: o.Rounds,
		MsA: median(ta), MsB: median(tb),
		Speedup: metrics.Interval{Value: median(ratio), Lo: slices.Min(ratio), Hi: slices.Max(ratio)},
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

// median returns the median of v (the mean of the middle two for an even
// count); v is sorted in place.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
