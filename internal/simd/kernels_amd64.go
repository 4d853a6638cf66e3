//go:build amd64

package simd

import "golang.org/x/sys/cpu"

//go:noescape
func kernelAVX512(k int, a, b, c *float32, ldc int, acc bool)

//go:noescape
func kernelAVX2(k int, a, b, c *float32, ldc int, acc bool)

var kernels = map[Path]kernel{
	AVX512: {mr: 8, nr: 32, fn: kernelAVX512},
	AVX2:   {mr: 6, nr: 16, fn: kernelAVX2},
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
