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
