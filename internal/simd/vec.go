package simd

import (
	"fmt"
	"math"
)

// The vector routines below run with the vector instructions of the current
// path on whole vectors; on the pure-Go path they run in Go throughout. The
// elementwise ones (AffineSiLU, Affine, AXPBYC) run the
// remainder through the same vector kernel on a zero-padded copy, so that
// an element's bits do not depend on its position in the slice: the Go
// loop's arithmetic differs from the kernel's in the last bit (a separate
// multiply and add where the kernel fuses them, another exp), and a slice
// that holds a whole batch (a time embedding of N rows of 10, say) would
// otherwise give a row other bits in a batch of 3 than alone. The
// routines over one row or channel (the reductions SumDev, Dot, Max,
// Softmax and SoftmaxGrad, which depend on the whole row anyway) finish in
// Go.

func sigmoid(t float32) float32 { return float32(1 / (1 + math.Exp(-float64(t)))) }

// split returns how many leading elements of n the vector kernels handle.
func split(n int) int {
	l := vecLanes()
	if l == 0 {
		return 0
	}
	return n / l * l
}

// tail holds the elements from v on of up to two operands (fewer than a
// vector's lanes) zero-padded to one vector, for a vector kernel to run
// on (load), and its result's elements to copy back (store).
type tail struct {
	d, x, y [16]float32
	l, n    int // lanes, elements loaded
}

// load fills the tail from x[v:] and y[v:] (y may be nil) and reports
// whether a kernel is to run on it: false on the pure-Go path, where the
// caller's loop does the remainder.
func (t *tail) load(x, y []float32, v int) bool {
	if t.l = vecLanes(); t.l == 0 {
		return false
	}
	t.n = copy(t.x[:], x[v:])
	if y != nil {
		copy(t.y[:], y[v:])
	}
	return true
}

// store copies the kernel's result for the loaded elements to dst.
func (t *tail) store(dst []float32) { copy(dst, t.d[:t.n]) }

// AffineSiLU sets dst[i] = t·sigmoid(t) with t = a·src[i] + b: a GroupNorm's
// per-channel affine map fused with the SiLU that follows it.
func AffineSiLU(dst, src []float32, a, b float32) {
	src = src[:len(dst)]
	v := split(len(dst))
	if v > 0 {
		affineSiLUAsm(dst, src, v, a, b)
	}
	if v < len(dst) {
		var t tail
		if t.load(src, nil, v) {
			affineSiLUAsm(t.d[:t.l], t.x[:t.l], t.l, a, b)
			t.store(dst[v:])
			return
		}
	}
	for i := v; i < len(dst); i++ {
		t := a*src[i] + b
		dst[i] = t * sigmoid(t)
	}
}

// Affine sets dst[i] = a·src[i] + b.
func Affine(dst, src []float32, a, b float32) {
	src = src[:len(dst)]
	v := split(len(dst))
	if v > 0 {
		affineAsm(dst, src, v, a, b)
	}
	if v < len(dst) {
		var t tail
		if t.load(src, nil, v) {
			affineAsm(t.d[:t.l], t.x[:t.l], t.l, a, b)
			t.store(dst[v:])
			return
		}
	}
	for i := v; i < len(dst); i++ {
		dst[i] = a*src[i] + b
	}
}

// MeanRstd returns the mean of x and 1/√(var+eps) with the biased variance,
// in two passes (the second about a first estimate of the mean) so that a
// large mean does not cost precision.
func MeanRstd(x []float32, eps float64) (mean, rstd float64) {
	s, _ := SumDev(x, 0)
	m0 := s / float64(len(x))
	d, q := SumDev(x, float32(m0))
	d /= float64(len(x))
	v := q/float64(len(x)) - d*d
	return m0 + d, 1 / math.Sqrt(math.Max(v, 0)+eps)
}

// MeanRstdMany sets mean[i] and rstd[i] to MeanRstd(xs[i], eps) for every
// i, the same values to the bit, four slices at a time where four in turn
// have one length: each lane's sum is a chain of dependent additions, and
// MeanRstd over one slice waits on it where four slices' chains side by
// side keep the adders busy (GroupNorm's statistics, a group per slice).
func MeanRstdMany(xs [][]float32, eps float64, mean, rstd []float64) {
	if len(mean) < len(xs) || len(rstd) < len(xs) {
		panic(fmt.Sprintf("MeanRstdMany: %d slices, %d means and %d rstds", len(xs), len(mean), len(rstd)))
	}
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		n := len(xs[i])
		if v := split(n); v == 0 || len(xs[i+1]) != n || len(xs[i+2]) != n || len(xs[i+3]) != n {
			for j := i; j < i+4; j++ {
				mean[j], rstd[j] = MeanRstd(xs[j], eps)
			}
			continue
		}
		meanRstd4((*[4][]float32)(xs[i:i+4]), eps, (*[4]float64)(mean[i:i+4]), (*[4]float64)(rstd[i:i+4]))
	}
	for ; i < len(xs); i++ {
		mean[i], rstd[i] = MeanRstd(xs[i], eps)
	}
}

// meanRstd4 is MeanRstd of four slices of one length (at least one
// vector), the vector parts' passes four at a time and every other step as
// MeanRstd and SumDev take it.
func meanRstd4(xs *[4][]float32, eps float64, mean, rstd *[4]float64) {
	n := len(xs[0])
	v, l := split(n), vecLanes()
	var acc [128]float32
	// sums returns slice j's Σ(x−m) and Σ(x−m)² from acc and its tail, as
	// SumDev does.
	sums := func(j int, m float32) (s, q float64) {
		for i := 0; i < l; i++ {
			s += float64(acc[2*j*l+i])
			q += float64(acc[(2*j+1)*l+i])
		}
		for _, a := range xs[j][v:] {
			d := float64(a - m)
			s += d
			q += d * d
		}
		return s, q
	}
	sumDev4Asm(xs, v, nil, &acc)
	var m0 [4]float64
	var m [4]float32
	for j := range m0 {
		s, _ := sums(j, 0)
		m0[j] = s / float64(n)
		m[j] = float32(m0[j])
	}
	sumDev4Asm(xs, v, &m, &acc)
	for j := range m0 {
		d, q := sums(j, m[j])
		d /= float64(n)
		va := q/float64(n) - d*d
		mean[j], rstd[j] = m0[j]+d, 1/math.Sqrt(math.Max(va, 0)+eps)
	}
}

// SumDev returns Σ(x−m) and Σ(x−m)².
func SumDev(x []float32, m float32) (float64, float64) {
	var acc [32]float32
	v := split(len(x))
	var s, q float64
	if v > 0 {
		sumDevAsm(x, v, m, &acc)
		l := vecLanes()
		for i := 0; i < l; i++ {
			s += float64(acc[i])
			q += float64(acc[l+i])
		}
	}
	for _, a := range x[v:] {
		d := float64(a - m)
		s += d
		q += d * d
	}
	return s, q
}

// GNBackward is the first pass of a GroupNorm(+SiLU) backward over one
// channel's values: with x̂ = (x−mean)·rstd, it stores in dy the gradient d at
// the GroupNorm output (gz, through SiLU's derivative at t = γ·x̂+β when silu
// is set) and returns Σ d·x̂ and Σ d.
func GNBackward(dy, gz, x []float32, mean, rstd, gamma, beta float32, silu bool) (sdx, sd float64) {
	gz, x = gz[:len(dy)], x[:len(dy)]
	v := split(len(dy))
	if v > 0 {
		var acc [32]float32
		p := [4]float32{mean, rstd, gamma, beta}
		gnBackwardAsm(dy, gz, x, v, &p, silu, &acc)
		l := vecLanes()
		for i := 0; i < l; i++ {
			sdx += float64(acc[i])
			sd += float64(acc[l+i])
		}
	}
	for i := v; i < len(dy); i++ {
		xh := (x[i] - mean) * rstd
		d := gz[i]
		if silu {
			t := gamma*xh + beta
			s := sigmoid(t)
			d *= s * (1 + t*(1-s))
		}
		dy[i] = d
		sdx += float64(d) * float64(xh)
		sd += float64(d)
	}
	return sdx, sd
}

// AXPBYC sets dst[i] = a·y[i] + b·x[i] + c (dst may be y).
func AXPBYC(dst, y, x []float32, a, b, c float32) {
	y, x = y[:len(dst)], x[:len(dst)]
	v := split(len(dst))
	p := [3]float32{a, b, c}
	if v > 0 {
		axpbycAsm(dst, y, x, v, &p)
	}
	if v < len(dst) {
		var t tail
		if t.load(y, x, v) {
			axpbycAsm(t.d[:t.l], t.x[:t.l], t.y[:t.l], t.l, &p)
			t.store(dst[v:])
			return
		}
	}
	for i := v; i < len(dst); i++ {
		dst[i] = a*y[i] + b*x[i] + c
	}
}

// Softmax replaces x by its softmax, exp(x − max x) / Σ exp(x − max x), with
// the sum accumulated in float64.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := Max(x)
	v := split(len(x))
	var s float64
	if v > 0 {
		var acc [32]float32
		expShiftAsm(x, x, v, m, &acc)
		for _, a := range acc[:vecLanes()] {
			s += float64(a)
		}
	}
	for i := v; i < len(x); i++ {
		e := math.Exp(float64(x[i] - m))
		x[i] = float32(e)
		s += e
	}
	Affine(x, x, float32(1/s), 0)
}

// Max returns the largest value of a non-empty slice (NaN-free input).
func Max(x []float32) float32 {
	m := x[0]
	v := split(len(x))
	if v > 0 {
		var acc [32]float32
		maxAsm(x, v, &acc)
		for _, a := range acc[:vecLanes()] {
			if a > m {
				m = a
			}
		}
	}
	for _, a := range x[v:] {
		if a > m {
			m = a
		}
	}
	return m
}

// Dot returns Σ a·b, accumulated lane-wise in float32 and summed in float64.
func Dot(a, b []float32) float64 {
	b = b[:len(a)]
	v := split(len(a))
	var s float64
	if v > 0 {
		var acc [32]float32
		dotAsm(a, b, v, &acc)
		for _, x := range acc[:vecLanes()] {
			s += float64(x)
		}
	}
	for i := v; i < len(a); i++ {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// SoftmaxGrad turns dp, the gradient at the output p of a row softmax, into
// the gradient at its input times scale: scale·p·(dp − Σ p·dp).
func SoftmaxGrad(dp, p []float32, scale float32) {
	p = p[:len(dp)]
	d := float32(Dot(p, dp))
	v := split(len(dp))
	if v > 0 {
		softmaxGradAsm(dp, p, v, d, scale)
	}
	for i := v; i < len(dp); i++ {
		dp[i] = scale * p[i] * (dp[i] - d)
	}
}

// AffineRows applies Affine to rows rows of w values: row r of dst, at
// r·ds, becomes a·(row r of src, at r·ss) + b, to the bit as Affine gives
// it row by row, without a call's checks per row (the rows of a wide
// convolution layout copied out, 32 values each).
func AffineRows(dst []float32, ds int, src []float32, ss, rows, w int, a, b float32) {
	if rows <= 0 || w <= 0 {
		return
	}
	_, _ = dst[(rows-1)*ds+w-1], src[(rows-1)*ss+w-1]
	if l := vecLanes(); l == 0 || w%l != 0 {
		for r := 0; r < rows; r++ {
			Affine(dst[r*ds:r*ds+w], src[r*ss:r*ss+w], a, b)
		}
		return
	}
	affineRowsAsm(dst, src, rows, w, ds, ss, a, b)
}

// PadRows copies rows rows of w values from src (contiguous) into dst, row
// r at r·stride, each followed by gap zeros (fewer where dst ends first):
// the rows of a plane put into a zero-padded layout, a right pad and the
// next row's left pad between them.
func PadRows(dst, src []float32, rows, w, stride, gap int) {
	if rows <= 0 || w <= 0 {
		return
	}
	_, _ = src[rows*w-1], dst[(rows-1)*stride+w-1]
	v := 0 // rows the vector kernel copies: all but the last, whose gap dst may cut
	if l := vecLanes(); l > 0 && w%l == 0 && stride >= w+gap {
		v = rows - 1
	}
	if v > 0 {
		padRowsAsm(dst, src, v, w, stride, gap)
	}
	for r := v; r < rows; r++ {
		row := dst[r*stride:]
		copy(row, src[r*w:(r+1)*w])
		clear(row[w:min(len(row), w+gap)])
	}
}
