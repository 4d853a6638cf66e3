package simd

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// probe is an FMA throughput probe: fn(n) issues n·perIter independent
// vector FMAs of lanes float32 each.
type probe struct {
	fn      func(n int)
	perIter int
	lanes   int
}

// Peak is the arithmetic ceiling of a path on this machine, measured rather
// than looked up: the rate of independent register-only FMAs (no loads,
// more accumulators than FMA latency × ports) on every thread at once, and
// the clock those threads run at, from a chain of dependent one-cycle
// additions. A GEMM's GFLOP/s over Peak.GFLOPS is the share of the
// machine's limit it reaches.
type Peak struct {
	Path    Path
	Threads int
	// GHz is the median over threads of the measured clock.
	GHz float64
	// FMAPerCycle is vector FMAs retired per cycle per thread (per core
	// where each thread has a core of its own).
	FMAPerCycle float64
	// Lanes is float32 lanes per vector FMA.
	Lanes int
	// GFLOPS is all threads together: 2 × Lanes × FMAs per second.
	GFLOPS float64
}

// String formats the peak for a benchmark's header.
func (p Peak) String() string {
	return fmt.Sprintf("%s ceiling %.1f GFLOP/s on %d thread(s): %.2f GHz × %.2f FMA/cycle × %d lanes × 2 flops × %d",
		p.Path, p.GFLOPS, p.Threads, p.GHz, p.FMAPerCycle, p.Lanes, p.Threads)
}

// MeasurePeak measures the ceiling of path p on threads threads at once
// (each locked to an OS thread; per thread the fastest of 20 rounds of
// about 5 ms each). It returns an error for a path without a probe (the pure-Go
// path, or a path this CPU lacks).
func MeasurePeak(p Path, threads int) (Peak, error) {
	pr, ok := probes[p]
	if !ok || clockProbeFn == nil || !slices.Contains(Available(), p) {
		return Peak{}, fmt.Errorf("gemm: no FMA probe for path %q on this CPU", p)
	}
	if threads < 1 {
		return Peak{}, fmt.Errorf("gemm: %d threads", threads)
	}
	// Iteration counts for about 5 ms each at 3.5 GHz: short, so that
	// some rounds run unpreempted on a busy machine.
	const nClock = 3.5e9 * 5e-3 / 32
	nFMA := int(3.5e9 * 5e-3 * 2 / float64(pr.perIter))
	// Preemption can only slow a probe down: each thread keeps its fastest
	// clock and FMA rate over the rounds.
	ghz := make([]float64, threads)
	rate := make([]float64, threads) // vector FMAs per second
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		for t := range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				start := time.Now()
				clockProbeFn(nClock)
				ghz[t] = max(ghz[t], 32*nClock/time.Since(start).Seconds()/1e9)
				start = time.Now()
				pr.fn(nFMA)
				rate[t] = max(rate[t], float64(nFMA*pr.perIter)/time.Since(start).Seconds())
			}()
		}
		wg.Wait()
	}
	total := 0.0
	for _, r := range rate {
		total += r
	}
	slices.Sort(ghz)
	best := Peak{Path: p, Threads: threads, Lanes: pr.lanes, GHz: ghz[threads/2]}
	best.FMAPerCycle = total / float64(threads) / (best.GHz * 1e9)
	best.GFLOPS = 2 * float64(pr.lanes) * total / 1e9
	return best, nil
}
