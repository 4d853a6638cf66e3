package simd

import "fmt"

// Transforms of the Winograd minimal-filtering convolution F(2×2, 3×3)
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
// CVPR 2016): a stride-1 3×3 convolution with padding 1 over an h×w image
// (h, w even) is computed on (h/2)×(w/2) tiles of 2×2 outputs, each from a
// 4×4 input tile d: Y = Aᵀ·[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A, where the 16
// element-wise products, summed over input channels, are 16 independent
// matrix products. That is 16 multiplies per 4 outputs instead of 36.
//
// The padded image is kept as four parity planes: plane p = 2·pr + pc holds
// the padded pixels (2y'+pr, 2x'+pc), so that the 4×4 tile at (ty, tx)
// reads plane p at rows ty and ty+1 and columns tx and tx+1 — every operand
// of the transforms is a contiguous run over tiles. One channel's planes
// are laid out row-interleaved: row y' of plane p starts at (4y'+p)·L with
// L = w/2+1, and the channel takes WinoPlaneSize(h, w) values.

// WinoPlaneSize returns the number of values the parity planes of one
// channel of h×w take.
func WinoPlaneSize(h, w int) int { return (h/2 + 1) * 4 * (w/2 + 1) }

// WinoFits reports whether the transforms take an h×w image: h even and w
// a multiple of 8 (rows of a multiple of 4 tiles).
func WinoFits(h, w int) bool { return h > 0 && h%2 == 0 && w > 0 && w%8 == 0 }

func winoCheck(h, w int) {
	if !WinoFits(h, w) {
		panic(fmt.Sprintf("wino: %d×%d image: want even height and width a multiple of 8", h, w))
	}
}

// winoWide reports whether rows of tx tiles take the 8-lane transforms
// (otherwise the 4-lane ones).
func winoWide(tx int) bool { return tx%8 == 0 }

// winoIn16 sends the AVX-512 path's input transforms of rows of a multiple
// of 16 tiles (32-pixel-wide images) to the 16-lane kernel, which gives the
// 8-lane kernel's bits (TestWinoPathsAgree). It is on where the CPU runs
// 512-bit operations at full width (fullWidth512): on the 2-core Sapphire
// Rapids Xeon it transforms a 32×32 channel in 169–174 ns against 212–215
// for the 8-lane kernel, and on the 2-core Zen 4, which splits 512-bit
// operations in halves, it ran slower (270 against 250 ns; `go test -run
// NONE -bench WinoTransforms -cpu 1 ./internal/simd`).
var winoIn16 = fullWidth512(procCPUInfo)

func winoRowCheck(tx, rows int) {
	if tx <= 0 || tx%4 != 0 || rows <= 0 {
		panic(fmt.Sprintf("wino: %d tiles wide, %d rows: want a positive multiple of 4 and rows", tx, rows))
	}
}

// WinoSplit writes the parity planes of one h×w channel src into q
// (WinoPlaneSize(h, w) values), zero padding included.
func WinoSplit(q, src []float32, h, w int) {
	l := w/2 + 1
	paritySplit(q, src, h, w, [4]int{0, l, 2 * l, 3 * l}, 4*l)
}

// ParitySplit writes the parity planes of one h×w channel src into q
// (WinoPlaneSize(h, w) values) plane by plane: plane p row y' starts at
// p·ps + y'·L with ps = (h/2+1)·L and L = w/2+1. A stride-2 3×3
// convolution with padding 1 reads its taps there as shifted views, the
// output pixel (oy, ox) at oy·L + ox of each.
func ParitySplit(q, src []float32, h, w int) {
	l := w/2 + 1
	ps := (h/2 + 1) * l
	paritySplit(q, src, h, w, [4]int{0, ps, 2 * ps, 3 * ps}, l)
}

// paritySplit writes the parity planes with plane p row y' at base[p] + y'·pitch.
func paritySplit(q, src []float32, h, w int, base [4]int, pitch int) {
	winoCheck(h, w)
	tx, ty := w/2, h/2
	q = q[:WinoPlaneSize(h, w)]
	src = src[:h*w]
	at := func(p, y int) []float32 { return q[base[p]+y*pitch : base[p]+y*pitch+tx+1] }
	// The zero border: padded row 0 (planes 0 and 1 of row 0), padded row
	// h+1 (planes 2 and 3 of row ty), column 0 (planes 0 and 2) and column
	// w+1 (planes 1 and 3).
	clear(at(0, 0))
	clear(at(1, 0))
	clear(at(2, ty))
	clear(at(3, ty))
	_ = q[max(base[0], base[2])+ty*pitch]
	_ = q[max(base[1], base[3])+ty*pitch+tx]
	for o := 0; o <= ty*pitch; o += pitch {
		q[base[0]+o] = 0
		q[base[2]+o] = 0
		q[base[1]+o+tx] = 0
		q[base[3]+o+tx] = 0
	}
	if vecLanes() > 0 {
		// Row pair i: row 2i is padded row 2i+1 (plane 3 takes its evens,
		// plane 2 its odds one column on), row 2i+1 is padded row 2i+2 of
		// planes 1 and 0, one plane row down.
		off := [4]int{4 * base[3], 4 * (base[2] + 1), 4 * (base[1] + pitch), 4 * (base[0] + pitch + 1)}
		if winoWide(tx) {
			winoSplit256(&q[0], &src[0], h, w, &off, (pitch-tx)*4)
		} else {
			winoSplit128(&q[0], &src[0], h, w, &off, (pitch-tx)*4)
		}
		return
	}
	for i := 0; i < ty; i++ {
		r0, r1 := src[2*i*w:(2*i+1)*w], src[(2*i+1)*w:(2*i+2)*w]
		p3, p2 := at(3, i), at(2, i)[1:]
		p1, p0 := at(1, i+1), at(0, i+1)[1:]
		for x := 0; x < tx; x++ {
			p3[x], p2[x] = r0[2*x], r0[2*x+1]
			p1[x], p0[x] = r1[2*x], r1[2*x+1]
		}
	}
}

// WinoIn writes the input transform of tile rows [ty0, ty0+rows) of one
// channel's parity planes q (of an image w/2 = tx tiles wide) to the 16
// arrays v[ξ·vs:], ξ = 4r+c the position in the 4×4 tile, each holding the
// rows·tx tiles in row-major order.
func WinoIn(v []float32, vs int, q []float32, tx, ty0, rows int) {
	winoRowCheck(tx, rows)
	l := tx + 1
	q = q[(4*ty0)*l : (4*(ty0+rows)+4)*l]
	n := rows * tx
	_ = v[15*vs+n-1]
	if vs < n {
		panic(fmt.Sprintf("wino: stride %d below %d tiles", vs, n))
	}
	if vecLanes() > 0 {
		if vecLanes() == 16 && tx%16 == 0 && winoIn16 {
			winoIn512(&v[0], vs, &q[0], l, tx, rows, (4*l-tx)*4)
		} else if winoWide(tx) {
			winoIn256(&v[0], vs, &q[0], l, tx, rows, (4*l-tx)*4)
		} else {
			winoIn128(&v[0], vs, &q[0], l, tx, rows, (4*l-tx)*4)
		}
		return
	}
	var d [4][4]float32
	for r := 0; r < rows; r++ {
		for x := 0; x < tx; x++ {
			for i := 0; i < 4; i++ {
				for j := 0; j < 4; j++ {
					d[i][j] = q[(4*(r+i/2)+2*(i%2)+j%2)*l+x+j/2]
				}
			}
			var t [4][4]float32 // Bᵀ·d
			for j := 0; j < 4; j++ {
				t[0][j] = d[0][j] - d[2][j]
				t[1][j] = d[1][j] + d[2][j]
				t[2][j] = d[2][j] - d[1][j]
				t[3][j] = d[1][j] - d[3][j]
			}
			f := r*tx + x
			for i := 0; i < 4; i++ { // ·B
				v[(4*i+0)*vs+f] = t[i][0] - t[i][2]
				v[(4*i+1)*vs+f] = t[i][1] + t[i][2]
				v[(4*i+2)*vs+f] = t[i][2] - t[i][1]
				v[(4*i+3)*vs+f] = t[i][1] - t[i][3]
			}
		}
	}
}

// WinoOut writes the output transform plus bias of rows×tx tiles of one
// channel, read from the 16 arrays m[ξ·ms:] (laid out as WinoIn's), to the
// image rows y[0:2·rows·wo], wo = 2·tx.
func WinoOut(y []float32, m []float32, ms, tx, rows int, bias float32) {
	winoRowCheck(tx, rows)
	wo, n := 2*tx, rows*tx
	y = y[:2*rows*wo]
	_ = m[15*ms+n-1]
	if ms < n {
		panic(fmt.Sprintf("wino: stride %d below %d tiles", ms, n))
	}
	if vecLanes() > 0 {
		if winoWide(tx) {
			winoOut256(&y[0], wo, &m[0], ms, tx, rows, bias)
		} else {
			winoOut128(&y[0], wo, &m[0], ms, tx, rows, bias)
		}
		return
	}
	for r := 0; r < rows; r++ {
		for x := 0; x < tx; x++ {
			f := r*tx + x
			var z [2][4]float32 // Aᵀ·M
			for c := 0; c < 4; c++ {
				m0, m1, m2, m3 := m[c*ms+f], m[(4+c)*ms+f], m[(8+c)*ms+f], m[(12+c)*ms+f]
				z[0][c] = m0 + m1 + m2
				z[1][c] = m1 - m2 - m3
			}
			for a := 0; a < 2; a++ { // ·A
				row := y[(2*r+a)*wo+2*x:]
				row[0] = z[a][0] + z[a][1] + z[a][2] + bias
				row[1] = z[a][1] - z[a][2] - z[a][3] + bias
			}
		}
	}
}

// WinoOutAdd is WinoOut followed, on each value before it is stored, by
// the epilogue of a fused convolution: y += e when addE, then, when skip is
// not nil, y = s·skip + s·y with skip laid out like y (2·rows·wo values).
// The arithmetic is that of Affine(y, y, 1, e) and AXPBYC(y, skip, y, s, s,
// 0), so the result equals WinoOut followed by those two passes bit for bit.
func WinoOutAdd(y []float32, m []float32, ms, tx, rows int, bias float32, addE bool, e float32, skip []float32, s float32) {
	if !addE && skip == nil {
		WinoOut(y, m, ms, tx, rows, bias)
		return
	}
	winoRowCheck(tx, rows)
	wo, n := 2*tx, rows*tx
	y = y[:2*rows*wo]
	_ = m[15*ms+n-1]
	if ms < n {
		panic(fmt.Sprintf("wino: stride %d below %d tiles", ms, n))
	}
	var sp *float32
	if skip != nil {
		skip = skip[:len(y)]
		sp = &skip[0]
	}
	if vecLanes() > 0 {
		f := winoOutE128
		switch wide := winoWide(tx); {
		case wide && skip == nil:
			f = winoOutE256
		case wide && !addE:
			f = winoOutR256
		case wide:
			f = winoOutER256
		case !addE:
			f = winoOutR128
		case skip != nil:
			f = winoOutER128
		}
		f(&y[0], wo, &m[0], ms, tx, rows, bias, e, sp, s)
		return
	}
	WinoOut(y, m, ms, tx, rows, bias)
	if addE {
		Affine(y, y, 1, e)
	}
	if skip != nil {
		AXPBYC(y, skip, y, s, s, 0)
	}
}
