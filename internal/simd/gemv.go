package simd

// gemvKernel computes c[0:w] = (acc ? c : 0) + Σ_p a[p]·b[boff[p] : boff[p]+w]
// over p < k, for its width w (64 or 16 columns); it prefetches the row
// prefetchRows steps ahead, so boff must hold that many offsets more.
type gemvKernel func(k int, a *float32, boff *int, b, c *float32, acc bool)

// gemvRow computes c[0:n] = (acc ? c : 0) + a·B for a row a of k values and
// a k×n operand B whose row p is base[boff[p] : boff[p]+n], read in place
// (boff holds k + prefetchRows offsets: padOffsets).
// A product with one row of A is a matrix-vector product: the micro-kernels,
// which compute MR rows at once, would waste all but one and pack B for
// nothing, where this streams B once through vector accumulators.
func gemvRow(k64, k16 gemvKernel, k, n int, a []float32, boff []int, base []float32, c []float32, acc bool) {
	j := 0
	for ; j+64 <= n; j += 64 {
		k64(k, &a[0], &boff[0], &base[j], &c[j], acc)
	}
	for ; j+16 <= n; j += 16 {
		k16(k, &a[0], &boff[0], &base[j], &c[j], acc)
	}
	// The last columns (fewer than 16), each summed in order of p as it
	// always was, four at a time in registers so that their sums overlap.
	for ; j < n; j += 4 {
		var s [4]float32
		if w := n - j; w >= 4 {
			var s0, s1, s2, s3 float32
			for p, o := range boff[:k] {
				ap, r := a[p], base[o+j:o+j+4]
				s0 += ap * r[0]
				s1 += ap * r[1]
				s2 += ap * r[2]
				s3 += ap * r[3]
			}
			s = [4]float32{s0, s1, s2, s3}
		} else {
			for q := range w {
				var v float32
				for p, o := range boff[:k] {
					v += a[p] * base[o+j+q]
				}
				s[q] = v
			}
		}
		for q := range min(4, n-j) {
			if acc {
				c[j+q] += s[q]
			} else {
				c[j+q] = s[q]
			}
		}
	}
}

// gemv is serial's one-row product: C (1×n) = alpha·op(A)·B + beta·C for
// an untransposed B (serial checks that). It reports false where it does
// not apply (the pure-Go path, k = 0).
func gemv(transA bool, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32) bool {
	k64, k16 := gemvKernels()
	if k64 == nil || k == 0 {
		return false
	}
	buf := pool.Get().(*buffers)
	defer pool.Put(buf)
	if cap(buf.off) < k+prefetchRows {
		buf.off = make([]int, k+prefetchRows)
	}
	boff := buf.off[:k+prefetchRows]
	for p := range boff {
		boff[p] = min(p, k-1) * ldb
	}
	row := a[:k]
	if transA || alpha != 1 {
		if len(buf.a) < k {
			buf.a = make([]float32, k)
		}
		row = buf.a[:k]
		for p := range row {
			row[p] = alpha * a[offset(transA, 0, p, lda)]
		}
	}
	c = c[:n]
	if beta != 0 && beta != 1 {
		for j := range c {
			c[j] *= beta
		}
	}
	gemvRow(k64, k16, k, n, row, boff, b, c, beta != 0)
	return true
}
