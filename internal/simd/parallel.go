package simd

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel calls f on consecutive chunks [lo, hi) covering [0, n), spread
// over up to GOMAXPROCS goroutines, and returns when all are done. Work of
// less than minWork units in all (n·cost) runs on the calling goroutine.
// Chunk boundaries depend only on n and GOMAXPROCS; callers that reduce
// across chunks keep per-item partial results so that sums do not depend on
// the chunking.
//
// The chunks run on a pool of persistent workers that spin briefly between
// jobs before they sleep: a network's forward pass is a chain of short
// parallel ops, and waking a parked thread costs tens of microseconds on a
// virtual machine, which is a large share of an op of a few hundred. Chunk i
// always goes to the same worker (chunk 0 to the caller), so consecutive ops
// that split their data the same way find it in the same core's cache.
// Parallel may be called from several goroutines, and from inside f: a call
// that finds the pool busy runs its chunks on fresh goroutines instead.
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
	if !team.mu.TryLock() {
		spawn(n, w, f)
		return
	}
	defer team.mu.Unlock()
	team.run(n, w, f)
}

// minWork is the smallest amount of work (in elementary operations) worth
// starting goroutines for.
const minWork = 1 << 15

// spinFor is how long an idle worker polls for the next job before it
// sleeps.
const spinFor = 300 * time.Microsecond

// spawn runs chunks 1..w-1 of [0, n) on new goroutines and chunk 0 on the
// caller; a panic in any chunk reaches the caller once all have ended.
func spawn(n, w int, f func(lo, hi int)) {
	var wg sync.WaitGroup
	var panicV atomic.Pointer[any]
	for i := 1; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					panicV.CompareAndSwap(nil, &r)
				}
			}()
			f(lo, hi)
		}()
	}
	defer func() {
		wg.Wait()
		if v := panicV.Load(); v != nil {
			panic(*v)
		}
	}()
	f(0, n/w) // the caller takes the first chunk instead of waiting idle
}

// workerPool holds the persistent workers of Parallel. Worker i runs chunk
// i+1 of each job.
type workerPool struct {
	mu      sync.Mutex // held by the caller whose job the pool runs
	workers []*worker

	// The current job, published by incrementing gen.
	gen     atomic.Uint64
	f       func(lo, hi int)
	n, w    int
	pending atomic.Int32
	panicV  atomic.Pointer[any]
}

type worker struct {
	asleep atomic.Bool
	wake   chan struct{}
}

var team workerPool

// run executes f over [0, n) in w chunks with the pool's workers. The
// caller holds p.mu.
func (p *workerPool) run(n, w int, f func(lo, hi int)) {
	for len(p.workers) < w-1 {
		wk := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, wk)
		go p.loop(len(p.workers)-1, wk, p.gen.Load())
	}
	p.f, p.n, p.w = f, n, w
	p.pending.Store(int32(len(p.workers)))
	p.gen.Add(1)
	for _, wk := range p.workers {
		if wk.asleep.CompareAndSwap(true, false) {
			wk.wake <- struct{}{}
		}
	}
	func() {
		defer func() {
			// Let the workers finish before the panic unwinds the caller's
			// buffers.
			if r := recover(); r != nil {
				p.wait()
				panic(r)
			}
		}()
		f(0, n/w)
	}()
	p.wait()
	p.f = nil
	if v := p.panicV.Swap(nil); v != nil {
		panic(*v)
	}
}

// yieldEvery is how many polls of a spinning loop pass between two
// runtime.Gosched calls: each takes the scheduler's global lock, and with a
// dozen cores spinning a Gosched every few polls made that lock the hottest
// spot of a training step (issue: speed on many cores); every few
// thousand polls (a few microseconds) still lets a goroutine that shares
// the thread run soon.
const yieldEvery = 4096

// wait returns when every worker has finished the current job.
func (p *workerPool) wait() {
	for i := 0; p.pending.Load() != 0; i++ {
		if i%yieldEvery == yieldEvery-1 {
			runtime.Gosched() // a worker may share this thread
		}
	}
}

// loop is worker i's life: spin for the next generation, run its chunk,
// report, and sleep when no job comes for spinFor.
func (p *workerPool) loop(i int, wk *worker, seen uint64) {
	for {
		seen = p.next(wk, seen)
		if c := i + 1; c < p.w {
			lo, hi := c*p.n/p.w, (c+1)*p.n/p.w
			if lo < hi {
				p.chunk(lo, hi)
			}
		}
		p.pending.Add(-1)
	}
}

// chunk runs one chunk of the current job, keeping a panic for the caller.
func (p *workerPool) chunk(lo, hi int) {
	defer func() {
		if r := recover(); r != nil {
			v := r // allocated only on a panic
			p.panicV.CompareAndSwap(nil, &v)
		}
	}()
	p.f(lo, hi)
}

// next waits for a generation after seen and returns it.
func (p *workerPool) next(wk *worker, seen uint64) uint64 {
	start := time.Now()
	for i := 0; ; i++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if i%yieldEvery != yieldEvery-1 {
			continue
		}
		runtime.Gosched()
		if time.Since(start) < spinFor {
			continue
		}
		wk.asleep.Store(true)
		if g := p.gen.Load(); g != seen {
			if !wk.asleep.CompareAndSwap(true, false) {
				<-wk.wake // the caller saw us asleep and sent a token
			}
			return g
		}
		<-wk.wake
		start = time.Now()
	}
}
