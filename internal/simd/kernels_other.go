//go:build !amd64

package simd

var kernels = map[Path]kernel{PureGo: {}}

func available() []Path { return []Path{PureGo} }

func indirectKernel() func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool) {
	return nil
}

func indirectAKernel() func(k int, aoff *int, a, b, c *float32, ldc int, acc bool) { return nil }

func narrowKernels() (func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool), func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool, rows int)) {
	return nil, nil
}

var probes = map[Path]probe{}

var clockProbeFn func(n int)

func gemvKernels() (k64, k16 gemvKernel) { return nil, nil }

func indirectTailKernel() func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool, rows int) {
	return nil
}
