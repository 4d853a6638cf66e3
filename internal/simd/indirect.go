package simd

import "fmt"

// PackedA is an m×k A operand packed once in the micro-kernel's layout, for
// products repeated with many B operands (a convolution's filters, applied to
// every sample of a batch).
type PackedA struct {
	m, k, mr int
	kb       int // depth of its k blocks
	// split is the first row of the two four-row panels that end a 6-row
	// (AVX2) operand of m ≡ 2 (mod 6) rows, or m: 32 rows as 6+6+6+6+4+4
	// rather than 6+6+6+6+6+2, whose two-row tile waits on FMA latency
	// with four accumulators where a four-row one runs at the FMA units'
	// rate, as the six-row kernel does (0–3% faster on the shell's
	// 32-row products on a Zen 4 core). Each panel still holds mr rows
	// (zero-padded), so the layout's size is the same.
	split int
	data  []float32
}

// noSplit turns off PackedA's four-row panels (a test's switch: they must
// give the same bits).
var noSplit bool

// Pack packs alpha·op(A) (m×k after the transpose) for the current path,
// reusing the buffer of an earlier Pack.
func (pa *PackedA) Pack(a []float32, lda int, trans bool, m, k int, alpha float32) {
	mr := kern.mr
	if path == PureGo {
		mr = goKernel.mr
	}
	pa.m, pa.k, pa.mr, pa.kb = m, k, mr, kBlock(k)
	pa.split = m
	if mr == 6 && m >= 8 && m%6 == 2 && !noSplit {
		pa.split = m - 8
	}
	mp := roundUp(m, mr)
	if len(pa.data) < mp*k {
		pa.data = make([]float32, mp*k)
	}
	// Block p of kb columns holds the panels of rows [0, m) for those
	// columns: mr-row panels up to split, then two of four rows.
	for p0 := 0; p0 < k; p0 += pa.kb {
		kk := min(pa.kb, k-p0)
		block := pa.data[mp*p0:]
		packA(block, a, lda, trans, 0, p0, pa.split, kk, mr, alpha)
		for i := pa.split; i < m; i += 4 {
			packA(block[pa.offset(i, kk):], a, lda, trans, i, p0, 4, kk, mr, alpha)
		}
	}
}

// rowsAt returns the rows of the panel that starts at row i.
func (pa *PackedA) rowsAt(i int) int {
	if i < pa.split {
		return min(pa.mr, pa.m-i)
	}
	return 4
}

// offset returns where, in a k block of depth kk, the panel starting at
// row i lies.
func (pa *PackedA) offset(i, kk int) int {
	if i <= pa.split {
		return i * kk
	}
	return (pa.split + pa.mr*((i-pa.split)/4)) * kk
}

// panel returns the packed panel that starts at row i for the k block at
// p0.
func (pa *PackedA) panel(i, p0, kk int) []float32 {
	mp := roundUp(pa.m, pa.mr)
	return pa.data[mp*p0+pa.offset(i, kk):]
}

// prefetchRows is how many B rows ahead the indirect kernels prefetch.
const prefetchRows = 8

// GemmIndirect computes C = A·B + beta·C (beta 0 or 1) on the calling
// goroutine, where A is packed and row p of the k×n operand B is
// base[boff[p] : boff[p]+n]: B is read in place, with no packing, which is
// what a convolution over a padded image needs (its rows are the image's
// channels shifted by each kernel tap). base must hold boff[p]+n elements for
// every p.
func GemmIndirect(pa *PackedA, base []float32, boff []int, n int, beta float32, c []float32, ldc int) {
	m, k := pa.m, pa.k
	if len(boff) != k {
		panic(fmt.Sprintf("gemm: %d B row offsets for k = %d", len(boff), k))
	}
	for _, o := range boff {
		if o < 0 || o+n > len(base) {
			panic(fmt.Sprintf("gemm: B row at %d with %d columns overruns %d elements", o, n, len(base)))
		}
	}
	if m == 0 || n == 0 {
		return
	}
	if len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("gemm: C has %d elements, %d×%d with ld %d needs %d", len(c), m, n, ldc, (m-1)*ldc+n))
	}
	if beta != 0 && beta != 1 {
		panic("gemm: GemmIndirect takes beta 0 or 1")
	}
	record("indirect", m, n, k)
	kn, ind, tail := kern, indirectKernel(), indirectTailKernel()
	if path == PureGo {
		kn = goKernel
	}
	mr, nr := kn.mr, kn.nr
	if pa.mr != mr {
		panic("gemm: PackedA was packed for another path")
	}
	if k64, k16 := gemvKernels(); m == 1 && k > 0 && k64 != nil {
		// One row: a matrix-vector product (gemvRow); row 0 of a packed
		// A is every mr-th value.
		buf := pool.Get().(*buffers)
		defer pool.Put(buf)
		if len(buf.a) < k {
			buf.a = make([]float32, k)
		}
		row := buf.a[:k]
		for p := range row {
			row[p] = pa.data[p*mr]
		}
		if need := k + prefetchRows; cap(buf.off) < need {
			buf.off = make([]int, need)
		}
		off := buf.off[:k+prefetchRows]
		copy(off, boff)
		for i := k; i < len(off); i++ {
			off[i] = boff[k-1]
		}
		gemvRow(k64, k16, k, n, row, off, base, c, beta == 1)
		return
	}
	buf := pool.Get().(*buffers)
	defer pool.Put(buf)
	if need := nr * pa.kb; len(buf.b) < need {
		buf.b = make([]float32, need)
	}
	// The kernel reads prefetchRows offsets past each k block's last (to
	// prefetch ahead): a copy with the last offset repeated.
	if need := k + prefetchRows; cap(buf.off) < need {
		buf.off = make([]int, need)
	}
	off := buf.off[:k+prefetchRows]
	copy(off, boff)
	for i := k; i < len(off) && k > 0; i++ {
		off[i] = boff[k-1]
	}
	boff = off
	if len(buf.tmp) < mr*nr {
		buf.tmp = make([]float32, mr*nr)
	}
	narrow, narrowTail := narrowKernels()
	for j := 0; j < n; j += nr {
		nn := min(nr, n-j)
		if nn <= 16 && nr > 16 && narrow != nil {
			indirectNarrow(pa, base, boff, j, nn, beta, c, ldc, buf, narrow, narrowTail)
			continue
		}
		for p0 := 0; p0 < k; p0 += pa.kb {
			kk := min(pa.kb, k-p0)
			acc := beta == 1 || p0 > 0
			// Wide rows lie pages apart, more of them than the first-level
			// TLB holds: where several row tiles would each walk them
			// with few FMAs per row (the AVX2 kernel's 12), one copy into
			// a panel is cheaper. Measured on a Zen 4 core: 32×1024×96
			// went from 45 to 69 GFLOP/s on AVX2, and from 81 down to 64
			// on AVX-512 (16 FMAs per row), which keeps reading in place.
			packed := ind == nil || nn < nr || m > mr && n >= packWideRows && nr < 32
			if packed {
				packRows(buf.b, base, boff[p0:p0+kk], j, nn, nr)
			}
			for i, rows := 0, 0; i < m; i += rows {
				rows = pa.rowsAt(i)
				ap := pa.panel(i, p0, kk)
				full := rows == mr && nn == nr
				dst, ld, a := buf.tmp, nr, acc
				if full {
					dst, ld = c[i*ldc+j:], ldc
				} else {
					a = false
				}
				if !full && nn == nr && tail != nil {
					// A partial row tile, straight into C.
					if packed {
						kn.tail(kk, &ap[0], &buf.b[0], &c[i*ldc+j], ldc, acc, rows)
					} else {
						tail(kk, &ap[0], &boff[p0], &base[j], &c[i*ldc+j], ldc, acc, rows)
					}
					continue
				}
				if packed {
					kn.fn(kk, &ap[0], &buf.b[0], &dst[0], ld, a)
				} else {
					ind(kk, &ap[0], &boff[p0], &base[j], &dst[0], ld, a)
				}
				if !full {
					mergeTile(c[i*ldc+j:], ldc, buf.tmp, nr, rows, nn, acc)
				}
			}
		}
	}
}

// noNarrow turns off the 16-column kernels of the last columns (a test's
// switch: they must give the wide kernel's values to the bit).
var noNarrow bool

// indirectNarrow computes columns [j, j+nn) of GemmIndirect's product, nn
// ≤ 16, with the 16-column kernels (narrowKernels), where the 32-column
// one would compute 32 − nn columns of padding: 8×16 tiles, straight into
// C where the tile is whole, B read in place where its rows hold 16
// columns (as the AVX-512 path reads wide rows), from a zero-padded panel
// read through offsets p·16 otherwise. boff holds prefetchRows offsets
// past the last. Each value is the same sum in the same order as the wide
// kernel's: the same bits.
func indirectNarrow(pa *PackedA, base []float32, boff []int, j, nn int, beta float32, c []float32, ldc int, buf *buffers,
	kern func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool), tail func(k int, a *float32, boff *int, b, c *float32, ldc int, acc bool, rows int)) {
	const nr = 16
	m, k, mr := pa.m, pa.k, pa.mr
	packed := nn < nr
	if packed {
		if need := pa.kb + prefetchRows; cap(buf.poff) < need {
			buf.poff = make([]int, need)
		}
	}
	for p0 := 0; p0 < k; p0 += pa.kb {
		kk := min(pa.kb, k-p0)
		acc := beta == 1 || p0 > 0
		src, offs := base[j:], boff[p0:]
		if packed {
			packRows(buf.b, base, boff[p0:p0+kk], j, nn, nr)
			offs = buf.poff[:kk+prefetchRows]
			for p := range offs {
				offs[p] = min(p, kk-1) * nr
			}
			src = buf.b
		}
		for i, rows := 0, 0; i < m; i += rows {
			rows = pa.rowsAt(i)
			ap := pa.panel(i, p0, kk)
			switch {
			case nn == nr && rows == mr:
				kern(kk, &ap[0], &offs[0], &src[0], &c[i*ldc+j], ldc, acc)
			case nn == nr:
				tail(kk, &ap[0], &offs[0], &src[0], &c[i*ldc+j], ldc, acc, rows)
			default:
				kern(kk, &ap[0], &offs[0], &src[0], &buf.tmp[0], nr, false)
				mergeTile(c[i*ldc+j:], ldc, buf.tmp, nr, rows, nn, acc)
			}
		}
	}
}

// packWideRows is the width from which GemmIndirect packs the B rows of
// a panel once instead of reading them in place for each row tile (on the
// AVX2 path). From 256 on: rows of 256 values lie 1 KiB apart, so that
// every fourth falls in the same L1 set and a 32-deep panel fills the
// sets it uses; packed, the 32×256 by 32 Winograd products of the 32×32
// shell (1 KiB rows: nn/winograd.go) ran 8% faster on a Zen 4 core, and
// 64×256 by 64 and by 128 1–5%, where 32×384 by 32 did not move.
const packWideRows = 256

// packRows copies columns [j, j+nn) of the rows base[off[p]:] into a
// k-major panel of width nr, zero-padding columns nn to nr.
func packRows(dst, base []float32, off []int, j, nn, nr int) {
	if nn == nr && (nr == 16 || nr == 32) && vecLanes() > 0 && len(off) > 0 {
		// Unchecked reads: GemmIndirect, the only caller, checked every
		// offset against its n columns, and j+nn ≤ n.
		_ = dst[len(off)*nr-1]
		if nr == 16 {
			packRows16(&dst[0], &base[j], &off[0], len(off))
		} else {
			packRows32(&dst[0], &base[j], &off[0], len(off))
		}
		return
	}
	switch {
	case nn == 16 && nr == 16:
		for p, o := range off {
			*(*[16]float32)(dst[p*16:]) = *(*[16]float32)(base[o+j:])
		}
	case nn == 32 && nr == 32:
		for p, o := range off {
			*(*[32]float32)(dst[p*32:]) = *(*[32]float32)(base[o+j:])
		}
	default:
		for p, o := range off {
			row := dst[p*nr : (p+1)*nr]
			copy(row[:nn], base[o+j:])
			clear(row[nn:])
		}
	}
}

// PackedB is a k×n B operand packed in the micro-kernel's layout, for
// products that reuse it or that run several times with different A rows.
type PackedB struct {
	n, k, nr int
	kb       int // depth of its k blocks
	data     []float32
}

// PackedBSize returns how many values a PackedB of k×n needs on the current
// path.
func PackedBSize(k, n int) int {
	nr := kern.nr
	if path == PureGo {
		nr = goKernel.nr
	}
	return roundUp(n, nr) * k
}

// PackB packs the k×n operand given by packer into dst (PackedBSize(k, n)
// values) and returns it.
func PackB(dst []float32, packer Packer, k, n int) PackedB {
	nr := kern.nr
	if path == PureGo {
		nr = goKernel.nr
	}
	np := roundUp(n, nr)
	pb := PackedB{n: n, k: k, nr: nr, kb: kBlock(k), data: dst[:np*k]}
	for p0 := 0; p0 < k; p0 += pb.kb {
		kk := min(pb.kb, k-p0)
		packer(pb.data[np*p0:], 0, n, p0, kk, nr)
	}
	return pb
}

// GemmIndirectA computes C = A·B + beta·C (beta 0 or 1) on the calling
// goroutine, where row r of the m×k operand A is a[aoff[r] : aoff[r]+k], read
// in place, and the k×n operand B is packed: the shape of a convolution's
// filter gradient dWᵀ = X·dYᵀ, whose A rows are the image's channels shifted
// by each kernel tap, and of attention's products with the probabilities.
func GemmIndirectA(m int, a []float32, aoff []int, b PackedB, beta float32, c []float32, ldc int) {
	n, k := b.n, b.k
	if len(aoff) != m {
		panic(fmt.Sprintf("gemm: %d A row offsets for m = %d", len(aoff), m))
	}
	for _, o := range aoff {
		if o < 0 || o+k > len(a) {
			panic(fmt.Sprintf("gemm: A row at %d of length %d overruns %d elements", o, k, len(a)))
		}
	}
	if m == 0 || n == 0 || k == 0 {
		if k == 0 && beta == 0 {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	if len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("gemm: C has %d elements, %d×%d with ld %d needs %d", len(c), m, n, ldc, (m-1)*ldc+n))
	}
	if beta != 0 && beta != 1 {
		panic("gemm: GemmIndirectA takes beta 0 or 1")
	}
	record("indirectA", m, n, k)
	kn, ind := kern, indirectAKernel()
	if path == PureGo {
		kn = goKernel
	}
	mr, nr := kn.mr, kn.nr
	if b.nr != nr {
		panic("gemm: PackedB was packed for another path")
	}
	buf := pool.Get().(*buffers)
	defer pool.Put(buf)
	if need := mr * b.kb; len(buf.a) < need {
		buf.a = make([]float32, need)
	}
	if len(buf.tmp) < mr*nr {
		buf.tmp = make([]float32, mr*nr)
	}
	nPanels := (n + nr - 1) / nr
	np := nPanels * nr
	offs := &buf.rows // in the pool: a local array would escape to the heap
	for p0 := 0; p0 < k; p0 += b.kb {
		kk := min(b.kb, k-p0)
		acc := beta == 1 || p0 > 0
		bb := b.data[np*p0:]
		for i := 0; i < m; i += mr {
			rows := min(mr, m-i)
			for r := 0; r < mr; r++ {
				offs[r] = aoff[i+min(r, rows-1)] + p0
			}
			if ind == nil {
				panel := buf.a[:mr*kk]
				for r := 0; r < mr; r++ {
					for p, v := range a[offs[r] : offs[r]+kk] {
						panel[p*mr+r] = v
					}
				}
			}
			for jp := 0; jp < nPanels; jp++ {
				j := jp * nr
				nn := min(nr, n-j)
				bp := bb[jp*nr*kk:]
				full := rows == mr && nn == nr
				dst, ld, ac := buf.tmp, nr, false
				if full {
					dst, ld, ac = c[i*ldc+j:], ldc, acc
				}
				if ind != nil {
					ind(kk, &offs[0], &a[0], &bp[0], &dst[0], ld, ac)
				} else {
					kn.fn(kk, &buf.a[0], &bp[0], &dst[0], ld, ac)
				}
				if !full {
					mergeTile(c[i*ldc+j:], ldc, buf.tmp, nr, rows, nn, acc)
				}
			}
		}
	}
}
