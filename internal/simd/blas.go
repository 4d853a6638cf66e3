package simd

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// BLAS is gonum's BLAS implementation with single-precision GEMM replaced by
// this package's. Given to gorgonia.Use and tensor.Use, it makes every
// matrix product and im2col convolution of gorgonia's own ops run on these
// kernels too.
type BLAS struct{ gonum.Implementation }

// Sgemm implements blas.Float32 (row-major, as gonum's).
func (BLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmCalls.Add(1)
	Sgemm(tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// BLASCalls returns how many products came through BLAS.Sgemm (for tests).
func BLASCalls() int64 { return sgemmCalls.Load() }
