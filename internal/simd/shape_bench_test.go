package simd

import (
	"fmt"
	"testing"
)

// BenchmarkModelShapes times serial products of shapes the mnist U-Net's
// layers multiply (gogemm -record), on every path.
func BenchmarkModelShapes(b *testing.B) {
	for _, p := range Available() {
		for _, s := range [][3]int{{32, 160, 32}, {32, 64, 96}, {64, 64, 64}, {1, 1086, 288}, {1, 64, 128}, {64, 256, 128}} {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%s/%dx%dx%d", p, m, n, k), func(b *testing.B) {
				defer Use(Current())
				Use(p)
				a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
				for i := range a {
					a[i] = float32(i%7) - 3
				}
				for i := range bb {
					bb[i] = float32(i%5) - 2
				}
				b.SetBytes(0)
				b.ReportAllocs()
				for b.Loop() {
					SgemmSerial(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
