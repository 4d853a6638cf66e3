package evaluate

import (
	"fmt"

	"github.com/clockwork-go/clockwork/metrics"
)

// Comparison is a method measured against a reference method (the plain
// model it saves work on) from the same noise and conditioning.
type Comparison struct {
	Report
	// L2 and PSNR are the mean distance of each sample to the reference's
	// from the same noise and conditioning, with bootstrap 95% intervals.
	L2   *metrics.Interval `json:"l2_to_teacher,omitempty"`
	PSNR *metrics.Interval `json:"psnr_to_teacher,omitempty"`
	// Paired times the reference (A) against the method (B) on one batch
	// in alternating rounds; RefGFLOPs is the reference's cost per sample.
	Paired    *PairedTiming `json:"paired_timing,omitempty"`
	RefGFLOPs float64       `json:"plain_gflops_per_sample,omitempty"`
}

// CompareOptions say what a comparison measures besides quality.
type CompareOptions struct {
	// Quality tunes the quality measures.
	Quality metrics.QualityOptions
	// Guidance is reported only (the denoisers apply it).
	Guidance float64
	// Distances measures L2 and PSNR to the reference's samples, with
	// Bootstrap resamples (default 100) for the intervals.
	Distances bool
	Bootstrap int
	// Reference, when set, holds the reference's samples already drawn
	// (a study's cache): they are used instead of drawing them again.
	Reference []float32
	// Rounds of paired wall time (0: none) on a batch of TimeBatch
	// (default: the setup's batch); TimeAgainst, when its Denoiser is set,
	// is timed in the reference's place (a study times every cell against
	// one baseline).
	Rounds, TimeBatch int
	TimeAgainst       Method
}

// Compare draws and measures m, then measures it against ref: the L2
// distance and PSNR of each sample to the reference's from the same noise
// and conditioning, the reference's FLOPs, and the paired wall time.
func Compare(c *metrics.Classifier, ref, m Method, s Setup, o CompareOptions) (Comparison, []float32, error) {
	rep, d, err := Run(c, m, s, o.Guidance, o.Quality)
	if err != nil {
		return Comparison{}, nil, err
	}
	cmp := Comparison{Report: rep}
	if o.Distances {
		x := o.Reference
		if x == nil {
			rs := s
			rs.Progress = nil
			rd, err := Draw(ref, rs)
			if err != nil {
				return Comparison{}, nil, err
			}
			x, cmp.RefGFLOPs = rd.X, rd.GFLOPs+s.TextGFLOPs
		}
		reps := o.Bootstrap
		if reps == 0 {
			reps = 100
		}
		l2, psnr, err := Distances(d.X, x, s.N, reps, s.Seed)
		if err != nil {
			return Comparison{}, nil, err
		}
		cmp.L2, cmp.PSNR = &l2, &psnr
	}
	if o.Rounds > 0 {
		a := ref
		if o.TimeAgainst.Denoiser != nil {
			a = o.TimeAgainst
		}
		b := o.TimeBatch
		if b == 0 {
			b = s.Batch
		}
		p, err := TimePaired(a, m, s, min(b, s.N), o.Rounds)
		if err != nil {
			return Comparison{}, nil, err
		}
		cmp.Paired = &p
		if cmp.RefGFLOPs == 0 && o.TimeAgainst.Denoiser == nil {
			cmp.RefGFLOPs = p.GFLOPsA + s.TextGFLOPs
		}
	}
	return cmp, d.X, nil
}

// Distances returns the mean L2 distance and PSNR of n samples x to their
// twins ref, with bootstrap 95% intervals of reps resamples (from seed for
// L2, seed+1 for PSNR). Identical twins count as metrics.MaxPSNR.
func Distances(x, ref []float32, n, reps int, seed uint64) (l2, psnr metrics.Interval, err error) {
	p, err := metrics.PairedDistances(x, ref, n)
	if err != nil {
		return l2, psnr, err
	}
	if l2, err = metrics.Mean(p.L2, reps, seed); err != nil {
		return l2, psnr, fmt.Errorf("L2 to the reference: %w", err)
	}
	if psnr, err = metrics.Mean(metrics.CapPSNR(p.PSNR), reps, seed+1); err != nil {
		return l2, psnr, fmt.Errorf("PSNR to the reference: %w", err)
	}
	return l2, psnr, nil
}
