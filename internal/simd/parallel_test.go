package simd

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// covers runs Parallel over n items and checks that every item is visited
// exactly once.
func covers(t *testing.T, n, cost int) {
	t.Helper()
	seen := make([]atomic.Int32, n)
	Parallel(n, cost, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			seen[i].Add(1)
		}
	})
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("n=%d: item %d visited %d times", n, i, c)
		}
	}
}

func TestParallelCoversEveryItem(t *testing.T) {
	prev := runtime.GOMAXPROCS(4) // more workers than this machine may have cores
	defer runtime.GOMAXPROCS(prev)
	for _, n := range []int{0, 1, 2, 3, 7, 64, 1000} {
		covers(t, n, 1<<20)
		covers(t, n, 1) // below minWork: on the caller
	}
	// Fewer workers than the pool has: the spare ones must take no chunk.
	runtime.GOMAXPROCS(2)
	covers(t, 9, 1<<20)
	// Idle workers go to sleep and must wake for the next job.
	time.Sleep(3 * spinFor)
	covers(t, 9, 1<<20)
}

// TestParallelNestedAndConcurrent runs Parallel from inside its own chunks
// and from several goroutines at once: calls that find the pool busy must
// still complete.
func TestParallelNestedAndConcurrent(t *testing.T) {
	prev := runtime.GOMAXPROCS(3)
	defer runtime.GOMAXPROCS(prev)
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 50; rep++ {
				Parallel(6, 1<<20, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						Parallel(5, 1<<20, func(lo, hi int) { total.Add(int64(hi - lo)) })
					}
				})
			}
		}()
	}
	wg.Wait()
	if got, want := total.Load(), int64(4*50*6*5); got != want {
		t.Fatalf("visited %d items, want %d", got, want)
	}
}

// TestParallelPanics checks that a panic in a worker's chunk or in the
// caller's reaches the caller, after the other chunks have finished, and
// leaves the pool usable.
func TestParallelPanics(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	for _, bad := range []int{3, 7} { // last of the caller's chunk, of a worker's
		var done atomic.Int32
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("chunk with item %d: recovered %v, want boom", bad, r)
				}
				if d := done.Load(); d != 7 {
					t.Fatalf("chunk with item %d: %d items done when the panic arrived, want 7", bad, d)
				}
			}()
			Parallel(8, 1<<20, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if i == bad {
						time.Sleep(time.Millisecond)
						panic("boom")
					}
					done.Add(1)
				}
			})
		}()
		covers(t, 8, 1<<20)
	}
}

// TestParallelDoesNotWaitForSleepers runs a job on a pool whose one
// worker never wakes (no goroutine serves it): the caller must run the
// worker's chunk itself and return, where waiting for the worker would
// hang.
func TestParallelDoesNotWaitForSleepers(t *testing.T) {
	p := &workerPool{workers: []*worker{{wake: make(chan struct{}, 1)}}}
	p.workers[0].asleep.Store(true)
	seen := make([]atomic.Int32, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(8, 2, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // a deadlock guard, not a timing
		t.Fatal("the caller waited for a worker that never woke")
	}
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("item %d visited %d times", i, c)
		}
	}
	if p.cur.Load() != nil {
		t.Fatal("the finished job is still published")
	}
}
