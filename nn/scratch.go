package nn

import (
	"slices"
	"sync"
)

// Scratch memory shared by all ops: an op takes buffers for the duration of
// its computation and returns them, so the toolkit holds about the largest
// simultaneous need rather than one buffer per op.
var scratchPool struct {
	sync.Mutex
	free [][]float32
}

// getScratch returns a buffer of n values (contents undefined).
func getScratch(n int) []float32 {
	scratchPool.Lock()
	defer scratchPool.Unlock()
	best := -1
	for i, b := range scratchPool.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(scratchPool.free[best])) {
			best = i
		}
	}
	if best < 0 {
		// Replace the largest free buffer (too small anyway) to bound the pool.
		for i, b := range scratchPool.free {
			if best < 0 || cap(b) > cap(scratchPool.free[best]) {
				best = i
			}
		}
		if best >= 0 {
			scratchPool.free = slices.Delete(scratchPool.free, best, best+1)
		}
		return make([]float32, n)
	}
	b := scratchPool.free[best][:n]
	scratchPool.free = slices.Delete(scratchPool.free, best, best+1)
	return b
}

// putScratch returns a buffer taken with getScratch.
func putScratch(b []float32) {
	scratchPool.Lock()
	scratchPool.free = append(scratchPool.free, b[:cap(b)])
	scratchPool.Unlock()
}
