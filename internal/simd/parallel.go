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
// goes to the same worker each time (chunk 0 to the caller), so consecutive
// ops that split their data the same way find it in the same core's cache,
// unless that worker has not started it when the caller has finished its
// own: the caller then runs it rather than wait for a sleeping worker.
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
// sleeps. A batch of one leaves gaps of a few hundred microseconds
// between parallel ops (serial ops, the sampler's update): at 300 µs the
// workers slept in them and a sampling step at batch 1 took 4.3 to 6.1 ms
// on the 2-core EPYC, at 1 ms 4.0 to 4.3 (`benchmark -mode sample -batch
// 1 -steps 200`, five runs each); batches of 16 did not change.
const spinFor = time.Millisecond

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
// i+1 of each job unless the caller has taken it first.
type workerPool struct {
	mu      sync.Mutex // held by the caller whose job the pool runs
	workers []*worker

	// The current job (nil between jobs), published by incrementing gen.
	gen atomic.Uint64
	cur atomic.Pointer[job]
}

// job is one call of Parallel on the pool: w chunks of [0, n), each run by
// whoever claims it first.
type job struct {
	f       func(lo, hi int)
	n, w    int
	gen     uint64
	claimed []atomic.Bool // chunk 0 is the caller's from the start
	left    atomic.Int32  // chunks not yet finished
	panicV  atomic.Pointer[any]
}

// chunk runs chunk c of the job, keeping a panic for the caller, and
// counts it finished.
func (j *job) chunk(c int) {
	defer j.left.Add(-1)
	defer func() {
		if r := recover(); r != nil {
			v := r // allocated only on a panic
			j.panicV.CompareAndSwap(nil, &v)
		}
	}()
	if lo, hi := c*j.n/j.w, (c+1)*j.n/j.w; lo < hi {
		j.f(lo, hi)
	}
}

type worker struct {
	asleep atomic.Bool
	wake   chan struct{}
}

var team workerPool

// run executes f over [0, n) in w chunks with the pool's workers. The
// caller holds p.mu. It runs chunk 0, then every chunk no worker has
// claimed yet: a worker that slept (no job for spinFor) takes tens of
// microseconds to wake on a virtual machine, longer than a small op's
// chunk, and waiting for it made a batch of one run on one core at a time
// with a wake-up per op.
func (p *workerPool) run(n, w int, f func(lo, hi int)) {
	for len(p.workers) < w-1 {
		wk := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, wk)
		go p.loop(len(p.workers)-1, wk, p.gen.Load())
	}
	j := &job{f: f, n: n, w: w, gen: p.gen.Load() + 1, claimed: make([]atomic.Bool, w)}
	j.claimed[0].Store(true)
	j.left.Store(int32(w))
	p.cur.Store(j)
	p.gen.Store(j.gen)
	for _, wk := range p.workers[:w-1] {
		if wk.asleep.CompareAndSwap(true, false) {
			wk.wake <- struct{}{}
		}
	}
	j.chunk(0)
	for c := 1; c < w; c++ {
		if j.claimed[c].CompareAndSwap(false, true) {
			j.chunk(c)
		}
	}
	for i := 0; j.left.Load() != 0; i++ {
		if i%yieldEvery == yieldEvery-1 {
			runtime.Gosched() // a worker may share this thread
		}
	}
	p.cur.Store(nil)
	if v := j.panicV.Load(); v != nil {
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

// loop is worker i's life: spin for the next generation, run its chunk of
// the job unless the caller has taken it, and sleep when no job comes for
// spinFor.
func (p *workerPool) loop(i int, wk *worker, seen uint64) {
	for {
		seen = p.next(wk, seen)
		j := p.cur.Load()
		if j == nil {
			continue // the job ended before this worker looked
		}
		seen = max(seen, j.gen)
		if c := i + 1; c < j.w && j.claimed[c].CompareAndSwap(false, true) {
			j.chunk(c)
		}
	}
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
