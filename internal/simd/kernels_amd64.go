//go:build amd64

package simd

import "golang.org/x/sys/cpu"

//go:noescape
func kernelAVX512(k int, a, b, c *float32, ldc int, acc bool)

//go:noescape
func kernelAVX2(k int, a, b, c *float32, ldc int, acc bool)

//go:noescape
func kernelAVX512Tail(k int, a, b, c *float32, ldc int, acc bool, rows int)

//go:noescape
func kernelAVX2Tail(k int, a, b, c *float32, ldc int, acc bool, rows int)

var kernels = map[Path]kernel{
	AVX512: {mr: 8, nr: 32, fn: kernelAVX512, tail: kernelAVX512Tail},
	AVX2:   {mr: 6, nr: 16, fn: kernelAVX2, tail: kernelAVX2Tail},
	PureGo: {},
}

func available() []Path {
	var ps []Path
	if cpu.X86.HasAVX512F {
		ps = append(ps, AVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ps = append(ps, AVX2)
	}
	return append(ps, PureGo)
}

//go:noescape
func indirectAVX512(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool)

//go:noescape
func indirectAVX2(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool)

//go:noescape
func indirectAVX512Tail(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool, rows int)

//go:noescape
func indirectAVX2Tail(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool, rows int)

// indirectTailKernel returns the tail of the micro-kernel reading B rows
// through offsets (the first rows < MR rows of a packed A panel), or nil on
// the pure-Go path.
func indirectTailKernel() func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool, rows int) {
	switch path {
	case AVX512:
		return indirectAVX512Tail
	case AVX2:
		return indirectAVX2Tail
	}
	return nil
}

//go:noescape
func indirect16AVX512(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool)

//go:noescape
func indirect16AVX512Tail(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool, rows int)

// narrowKernels returns the AVX-512 path's 16-column indirect kernel and
// its tail (rows < 8), or nils on other paths and with noNarrow set.
func narrowKernels() (func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool), func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool, rows int)) {
	if path != AVX512 || noNarrow {
		return nil, nil
	}
	return indirect16AVX512, indirect16AVX512Tail
}

// indirectKernel returns the micro-kernel reading B rows through offsets,
// or nil on the pure-Go path.
func indirectKernel() func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool) {
	switch path {
	case AVX512:
		return indirectAVX512
	case AVX2:
		return indirectAVX2
	}
	return nil
}

//go:noescape
func indirectAAVX512(k int, aoff *int, a, b, c *float32, ldc int, acc bool)

//go:noescape
func indirectAAVX2(k int, aoff *int, a, b, c *float32, ldc int, acc bool)

// indirectAKernel returns the micro-kernel reading A rows through offsets,
// or nil on the pure-Go path.
func indirectAKernel() func(k int, aoff *int, a, b, c *float32, ldc int, acc bool) {
	switch path {
	case AVX512:
		return indirectAAVX512
	case AVX2:
		return indirectAAVX2
	}
	return nil
}

//go:noescape
func fmaProbeAVX512(n int)

//go:noescape
func fmaProbeAVX2(n int)

//go:noescape
func clockProbe(n int)

// probes are the FMA throughput probes of the vector paths: the function,
// its accumulators per iteration and its float32 lanes per FMA.
var probes = map[Path]probe{
	AVX512: {fn: fmaProbeAVX512, perIter: 24, lanes: 16},
	AVX2:   {fn: fmaProbeAVX2, perIter: 12, lanes: 8},
}

// clockProbeFn is clockProbe (32 dependent one-cycle additions per
// iteration).
var clockProbeFn = clockProbe

//go:noescape
func gemv64AVX512(k int, a *float32, boff *int, b, c *float32, acc bool)

//go:noescape
func gemv16AVX512(k int, a *float32, boff *int, b, c *float32, acc bool)

//go:noescape
func gemv64AVX2(k int, a *float32, boff *int, b, c *float32, acc bool)

//go:noescape
func gemv16AVX2(k int, a *float32, boff *int, b, c *float32, acc bool)

// gemvKernels returns the row-times-matrix kernels of the path in use, 64
// and 16 columns wide, or nils on the pure-Go path.
func gemvKernels() (k64, k16 gemvKernel) {
	switch path {
	case AVX512:
		return gemv64AVX512, gemv16AVX512
	case AVX2:
		return gemv64AVX2, gemv16AVX2
	}
	return nil, nil
}
