//go:build amd64

package simd

//go:noescape
func affineSiLU512(dst, src *float32, n int, a, b float32)

//go:noescape
func affineSiLU256(dst, src *float32, n int, a, b float32)

//go:noescape
func affine512(dst, src *float32, n int, a, b float32)

//go:noescape
func affine256(dst, src *float32, n int, a, b float32)

//go:noescape
func affineRows512(dst, src *float32, rows, w, ds, ss int, a, b float32)

//go:noescape
func affineRows256(dst, src *float32, rows, w, ds, ss int, a, b float32)

func affineRowsAsm(dst, src []float32, rows, w, ds, ss int, a, b float32) {
	if path == AVX512 {
		affineRows512(&dst[0], &src[0], rows, w, ds, ss, a, b)
	} else {
		affineRows256(&dst[0], &src[0], rows, w, ds, ss, a, b)
	}
}

//go:noescape
func padRows512(dst, src *float32, rows, w, stride, gap int)

//go:noescape
func padRows256(dst, src *float32, rows, w, stride, gap int)

func padRowsAsm(dst, src []float32, rows, w, stride, gap int) {
	if path == AVX512 {
		padRows512(&dst[0], &src[0], rows, w, stride, gap)
	} else {
		padRows256(&dst[0], &src[0], rows, w, stride, gap)
	}
}

//go:noescape
func sumDev512(x *float32, n int, m float32, acc *float32)

//go:noescape
func sumDev256(x *float32, n int, m float32, acc *float32)

//go:noescape
func sum4512(x *[4]*float32, n int, acc *float32)

//go:noescape
func sum4256(x *[4]*float32, n int, acc *float32)

//go:noescape
func sumDev4512(x *[4]*float32, n int, m *[4]float32, acc *float32)

//go:noescape
func sumDev4256(x *[4]*float32, n int, m *[4]float32, acc *float32)

//go:noescape
func gnBackward512(dy, gz, x *float32, n int, p *[4]float32, silu bool, acc *float32)

//go:noescape
func gnBackward256(dy, gz, x *float32, n int, p *[4]float32, silu bool, acc *float32)

//go:noescape
func axpbyc512(dst, y, x *float32, n int, p *[3]float32)

//go:noescape
func axpbyc256(dst, y, x *float32, n int, p *[3]float32)

// vecLanes returns the vector width of the current path (0 for pure Go).
func vecLanes() int {
	switch path {
	case AVX512:
		return 16
	case AVX2:
		return 8
	}
	return 0
}

func affineSiLUAsm(dst, src []float32, n int, a, b float32) {
	if path == AVX512 {
		affineSiLU512(&dst[0], &src[0], n, a, b)
	} else {
		affineSiLU256(&dst[0], &src[0], n, a, b)
	}
}

func affineAsm(dst, src []float32, n int, a, b float32) {
	if path == AVX512 {
		affine512(&dst[0], &src[0], n, a, b)
	} else {
		affine256(&dst[0], &src[0], n, a, b)
	}
}

func sumDevAsm(x []float32, n int, m float32, acc *[32]float32) {
	if path == AVX512 {
		sumDev512(&x[0], n, m, &acc[0])
	} else {
		sumDev256(&x[0], n, m, &acc[0])
	}
}

// sumDev4Asm is sumDevAsm of four slices' first n values at once; with m
// nil it computes the sums of x (m = 0) only. acc holds each slice's two
// vectors of lane sums in turn.
func sumDev4Asm(x *[4][]float32, n int, m *[4]float32, acc *[128]float32) {
	p := [4]*float32{&x[0][0], &x[1][0], &x[2][0], &x[3][0]}
	switch {
	case path == AVX512 && m == nil:
		sum4512(&p, n, &acc[0])
	case path == AVX512:
		sumDev4512(&p, n, m, &acc[0])
	case m == nil:
		sum4256(&p, n, &acc[0])
	default:
		sumDev4256(&p, n, m, &acc[0])
	}
}

func gnBackwardAsm(dy, gz, x []float32, n int, p *[4]float32, silu bool, acc *[32]float32) {
	if path == AVX512 {
		gnBackward512(&dy[0], &gz[0], &x[0], n, p, silu, &acc[0])
	} else {
		gnBackward256(&dy[0], &gz[0], &x[0], n, p, silu, &acc[0])
	}
}

func axpbycAsm(dst, y, x []float32, n int, p *[3]float32) {
	if path == AVX512 {
		axpbyc512(&dst[0], &y[0], &x[0], n, p)
	} else {
		axpbyc256(&dst[0], &y[0], &x[0], n, p)
	}
}

//go:noescape
func expShift512(dst, src *float32, n int, m float32, acc *float32)

//go:noescape
func expShift256(dst, src *float32, n int, m float32, acc *float32)

func expShiftAsm(dst, src []float32, n int, m float32, acc *[32]float32) {
	if path == AVX512 {
		expShift512(&dst[0], &src[0], n, m, &acc[0])
	} else {
		expShift256(&dst[0], &src[0], n, m, &acc[0])
	}
}

//go:noescape
func maxv512(x *float32, n int, acc *float32)

//go:noescape
func maxv256(x *float32, n int, acc *float32)

//go:noescape
func dot512(a, b *float32, n int, acc *float32)

//go:noescape
func dot256(a, b *float32, n int, acc *float32)

//go:noescape
func softmaxGrad512(dp, p *float32, n int, d, scale float32)

//go:noescape
func softmaxGrad256(dp, p *float32, n int, d, scale float32)

func maxAsm(x []float32, n int, acc *[32]float32) {
	if path == AVX512 {
		maxv512(&x[0], n, &acc[0])
	} else {
		maxv256(&x[0], n, &acc[0])
	}
}

func dotAsm(a, b []float32, n int, acc *[32]float32) {
	if path == AVX512 {
		dot512(&a[0], &b[0], n, &acc[0])
	} else {
		dot256(&a[0], &b[0], n, &acc[0])
	}
}

func softmaxGradAsm(dp, p []float32, n int, d, scale float32) {
	if path == AVX512 {
		softmaxGrad512(&dp[0], &p[0], n, d, scale)
	} else {
		softmaxGrad256(&dp[0], &p[0], n, d, scale)
	}
}

//go:noescape
func winoSplit256(q, src *float32, h, w int, off *[4]int, adv int)

//go:noescape
func winoIn256(v *float32, vs int, q *float32, l, tx, rows, adv int)

//go:noescape
func winoIn512(v *float32, vs int, q *float32, l, tx, rows, adv int)

//go:noescape
func winoOut256(y *float32, wo int, m *float32, ms int, tx, rows int, bias float32)

//go:noescape
func winoOutE256(y *float32, wo int, m *float32, ms int, tx, rows int, bias, e float32, skip *float32, s float32)

//go:noescape
func winoOutR256(y *float32, wo int, m *float32, ms int, tx, rows int, bias, e float32, skip *float32, s float32)

//go:noescape
func winoOutER256(y *float32, wo int, m *float32, ms int, tx, rows int, bias, e float32, skip *float32, s float32)

//go:noescape
func winoSplit128(q, src *float32, h, w int, off *[4]int, adv int)

//go:noescape
func winoIn128(v *float32, vs int, q *float32, l, tx, rows, adv int)

//go:noescape
func winoOut128(y *float32, wo int, m *float32, ms int, tx, rows int, bias float32)

//go:noescape
func winoOutE128(y *float32, wo int, m *float32, ms int, tx, rows int, bias, e float32, skip *float32, s float32)

//go:noescape
func winoOutR128(y *float32, wo int, m *float32, ms int, tx, rows int, bias, e float32, skip *float32, s float32)

//go:noescape
func winoOutER128(y *float32, wo int, m *float32, ms int, tx, rows int, bias, e float32, skip *float32, s float32)

//go:noescape
func pack8x8(dst, a *float32, lda, kk, ds int)

//go:noescape
func pack6x4(dst, a *float32, lda, kk int)

//go:noescape
func packB32(dst, b *float32, ldb, kk, panels int)

//go:noescape
func packB16(dst, b *float32, ldb, kk, panels int)

//go:noescape
func packRows16(dst, base *float32, off *int, kk int)

//go:noescape
func packRows32(dst, base *float32, off *int, kk int)

//go:noescape
func pool2x512(dst, src *float32, rows, w int, scale float32)

//go:noescape
func toSpaceAdd4x512(out, base, deep *float32, h, w int)
