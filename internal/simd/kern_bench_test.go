package simd

import (
	"fmt"
	"testing"
)

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

func BenchmarkDot(b *testing.B) {
	for _, p := range Available()[:len(Available())-1] {
		for _, misalign := range []int{0, 1} {
			b.Run(fmt.Sprintf("%s/misalign=%d", p, misalign), func(b *testing.B) {
				Use(p)
				fn, mr, nr, _ := dotKernel()
				n := 1024
				data := make([]float32, 16*(n+64))
				var ao, bo [8]int
				for r := 0; r < mr; r++ {
					ao[r] = r*(n+64) + misalign
				}
				for q := 0; q < nr; q++ {
					bo[q] = (8+q)*(n+64) + misalign
				}
				var out [32]float32
				b.SetBytes(int64(2 * n * mr * nr))
				for b.Loop() {
					fn(n, &ao[0], &bo[0], &data[0], &data[0], &out[0])
				}
			})
		}
	}
	Use(Available()[0])
}
