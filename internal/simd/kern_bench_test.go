package simd

import "testing"

func BenchmarkKernel(b *testing.B) {
	for _, p := range Available()[:len(Available())-1] {
		b.Run(string(p), func(b *testing.B) {
			k := kernels[p]
			kk := 128
			a := make([]float32, kk*k.mr)
			bb := make([]float32, kk*k.nr)
			c := make([]float32, k.mr*k.nr)
			b.SetBytes(int64(2 * kk * k.mr * k.nr))
			for b.Loop() {
				k.fn(kk, &a[0], &bb[0], &c[0], k.nr, true)
			}
		})
	}
}

// BenchmarkAffineSiLU times GroupNorm's affine map and SiLU over one
// 32×32 plane (1024 values, the shell's planes) on each vector path.
func BenchmarkAffineSiLU(b *testing.B) {
	x := make([]float32, 1024)
	for i := range x {
		x[i] = float32(i%97)/20 - 2
	}
	dst := make([]float32, len(x))
	for _, p := range Available()[:len(Available())-1] {
		b.Run(string(p), func(b *testing.B) {
			if err := Use(p); err != nil {
				b.Fatal(err)
			}
			defer Use(Available()[0])
			for b.Loop() {
				AffineSiLU(dst, x, 1.1, 0.2)
			}
		})
	}
}
