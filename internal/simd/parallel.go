package simd

import (
	"runtime"
	"sync"
)

// Parallel calls f on consecutive chunks [lo, hi) covering [0, n), spread
// over up to GOMAXPROCS goroutines, and returns when all are done. Work of
// less than minWork units in all (n·cost) runs on the calling goroutine.
// Chunk boundaries depend only on n and GOMAXPROCS; callers that reduce
// across chunks keep per-item partial results so that sums do not depend on
// the chunking.
func Parallel(n, cost int, f func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if w > n {
		w = n
	}
	if w <= 1 || n*cost < minWork {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	f(0, n/w) // the caller takes the first chunk instead of waiting idle
	wg.Wait()
}

// minWork is the smallest amount of work (in elementary operations) worth
// starting goroutines for.
const minWork = 1 << 15
