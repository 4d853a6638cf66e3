package simd

// Shifted is the matrix X(r, s) = Base[(r mod Ch)·Plane + Off[r / Ch] + s]:
// row r = tap·Ch + c reads channel c of a zero-padded image, shifted by the
// offset of one kernel tap. A stride-1 convolution over an image padded to
// width Wp is Y = W·X with taps at offsets ky·Wp + kx (the output then lives
// on the padded width, two garbage columns a row for a 3×3 kernel), so a
// convolution is one GEMM whose operand is packed straight from the image,
// with no im2col matrix.
type Shifted struct {
	Base  []float32
	Plane int   // elements per channel
	Ch    int   // channels
	Off   []int // offset of each tap
}

func (x Shifted) row(r, s0, n int) []float32 {
	i := (r%x.Ch)*x.Plane + x.Off[r/x.Ch] + s0
	return x.Base[i : i+n]
}

// PackB packs X as the B operand (rows r are k, columns s are n).
func (x Shifted) PackB(dst []float32, j0, nn, p0, kk, nr int) {
	for jp := 0; jp*nr < nn; jp++ {
		panel := dst[jp*nr*kk : (jp+1)*nr*kk]
		c0 := j0 + jp*nr
		cols := min(nr, nn-jp*nr)
		if cols == 32 && nr == 32 {
			for p := 0; p < kk; p++ {
				*(*[32]float32)(panel[p*32:]) = *(*[32]float32)(x.row(p0+p, c0, 32))
			}
			continue
		}
		for p := 0; p < kk; p++ {
			out := panel[p*nr : (p+1)*nr]
			copy(out, x.row(p0+p, c0, cols))
			clear(out[cols:])
		}
	}
}

// PackA packs X as the A operand (rows r are m, columns s are k).
func (x Shifted) PackA(dst []float32, i0, mm, p0, kk, mr int) {
	for ip := 0; ip*mr < mm; ip++ {
		panel := dst[ip*mr*kk : (ip+1)*mr*kk]
		rows := min(mr, mm-ip*mr)
		base := i0 + ip*mr
		if rows == 8 && mr == 8 {
			packRowsFrom8(panel, x.row(base, p0, kk), x.row(base+1, p0, kk), x.row(base+2, p0, kk), x.row(base+3, p0, kk),
				x.row(base+4, p0, kk), x.row(base+5, p0, kk), x.row(base+6, p0, kk), x.row(base+7, p0, kk))
			continue
		}
		if rows < mr {
			clear(panel)
		}
		for r := 0; r < rows; r++ {
			out := panel[r:]
			for p, v := range x.row(base+r, p0, kk) {
				out[p*mr] = v
			}
		}
	}
}

// packRowsFrom6 writes six equal-length rows k-major into dst: dst[6p+r]
// is row r's value p (the AVX2 kernel's A panel).
func packRowsFrom6(dst, r0, r1, r2, r3, r4, r5 []float32) {
	kk := len(r0)
	r1, r2, r3, r4, r5 = r1[:kk], r2[:kk], r3[:kk], r4[:kk], r5[:kk]
	dst = dst[:6*kk]
	for p := range r0 {
		o := dst[6*p : 6*p+6 : 6*p+6]
		o[0], o[1], o[2] = r0[p], r1[p], r2[p]
		o[3], o[4], o[5] = r3[p], r4[p], r5[p]
	}
}

// packRowsFrom8 interleaves eight rows of equal length into dst, k-major.
func packRowsFrom8(dst, r0, r1, r2, r3, r4, r5, r6, r7 []float32) {
	kk := len(r0)
	r1, r2, r3, r4, r5, r6, r7 = r1[:kk], r2[:kk], r3[:kk], r4[:kk], r5[:kk], r6[:kk], r7[:kk]
	dst = dst[:8*kk]
	for p := range r0 {
		o := dst[8*p : 8*p+8 : 8*p+8]
		o[0], o[1], o[2], o[3] = r0[p], r1[p], r2[p], r3[p]
		o[4], o[5], o[6], o[7] = r4[p], r5[p], r6[p], r7[p]
	}
}
