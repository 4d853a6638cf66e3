package simd

import (
	"sync"
	"sync/atomic"
)

// Shape is a product's entry point and dimensions as the recorder saw
// them: C (M×N) += A (M×K) · B (K×N).
type Shape struct {
	// Kind is the entry point: "sgemm" (Sgemm, itself spread over the
	// cores), or one that runs on its caller's goroutine, as one of many
	// products that a layer spreads over the cores (a convolution's images,
	// attention's heads): "serial" (SgemmSerial), "packed" (GemmPacked),
	// "indirect" (GemmIndirect) or "indirectA" (GemmIndirectA).
	Kind    string
	M, N, K int
}

var (
	recording atomic.Bool
	recMu     sync.Mutex
	recorded  map[Shape]int
)

// StartRecording starts counting the shapes of the products that run, for
// benchmarks that replay a model's products (scripts/bench/gogemm -model);
// StopRecording stops and returns the counts. A product costs one atomic
// load more while no recording runs.
func StartRecording() {
	recMu.Lock()
	recorded = map[Shape]int{}
	recMu.Unlock()
	recording.Store(true)
}

// StopRecording stops a recording and returns how many products of each
// shape ran since StartRecording.
func StopRecording() map[Shape]int {
	recording.Store(false)
	recMu.Lock()
	defer recMu.Unlock()
	r := recorded
	recorded = nil
	return r
}

func record(kind string, m, n, k int) {
	if !recording.Load() {
		return
	}
	recMu.Lock()
	if recorded != nil {
		recorded[Shape{Kind: kind, M: m, N: n, K: k}]++
	}
	recMu.Unlock()
}
