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
