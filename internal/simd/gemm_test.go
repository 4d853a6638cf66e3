package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// ref computes C = alpha·op(A)·op(B) + beta·C in float64.
func ref(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[offset(ta, i, p, lda)]) * float64(b[offset(tb, p, j, ldb)])
			}
			if beta == 0 {
				out[i*ldc+j] = float64(alpha) * s
			} else {
				out[i*ldc+j] = float64(alpha)*s + float64(beta)*float64(c[i*ldc+j])
			}
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// TestSgemm checks every path against a float64 reference over shapes that
// hit full and partial tiles, several k blocks, transposes, strides, alpha
// and beta, one-row products, and both the serial and the parallel split.
func TestSgemm(t *testing.T) {
	for _, p := range Available() {
		if err := Use(p); err != nil {
			t.Fatal(err)
		}
		testProducts(t, string(p), false)
	}
	Use(Available()[0])
}

// testProducts checks Sgemm, GemmIndirect and GemmIndirectA on the path
// and blocking in use against the float64 reference; quick leaves out the
// mixed transposes and three of the five (alpha, beta).
func testProducts(t *testing.T, label string, quick bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {1, 17, 5}, {1, 130, 300}, {1, 1086, 288}, {1, 64, 1}, {7, 5, 3}, {8, 32, 16}, {13, 47, 300}, {64, 1024, 288}, {288, 256, 64}, {33, 70, 513}, {100, 3, 9}, {0, 5, 4}, {5, 4, 0}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for q, ab := range [][2]float32{{1, 0}, {-2, 0.25}, {1, 1}, {1, 0.5}, {0.5, 1}} {
					if quick && (q > 1 || ta != tb) {
						continue
					}
					lda, ldb, ldc := k+3, n+1, n+5
					if ta {
						lda = m + 2
					}
					if tb {
						ldb = k + 4
					}
					a := randSlice(r, max(m, k)*lda+8)
					b := randSlice(r, max(n, k)*ldb+8)
					c := randSlice(r, max(m, 1)*ldc)
					if ab[1] == 0 {
						for i := range c {
							c[i] = float32(math.NaN()) // beta 0 must not read C
						}
					}
					want := ref(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					Sgemm(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							got, w := float64(c[i*ldc+j]), want[i*ldc+j]
							if math.IsNaN(got) || math.Abs(got-w) > 1e-4*(1+math.Abs(w))*math.Sqrt(float64(k+1)) {
								t.Fatalf("%s %v ta=%t tb=%t alpha=%g beta=%g: C[%d][%d] = %g, want %g", label, s, ta, tb, ab[0], ab[1], i, j, got, w)
							}
						}
					}
				}
			}
		}
	}
	testIndirect(t, label)
}

func TestUseUnknown(t *testing.T) {
	if err := Use("sse9"); err == nil {
		t.Fatal("unknown path accepted")
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, p := range Available() {
		for _, n := range []int{256, 512, 1024} {
			b.Run(fmt.Sprintf("%s/n=%d", p, n), func(b *testing.B) {
				Use(p)
				r := rand.New(rand.NewPCG(1, 2))
				x, y, z := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
				b.SetBytes(int64(2 * n * n * n)) // reported MB/s = MFLOP/s
				for b.Loop() {
					Sgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
				}
			})
		}
	}
	Use(Available()[0])
}

// TestGemmPacked checks the packed driver, with dense and shifted operands,
// on every path (the pure-Go path uses its own micro-kernel here).
func TestGemmPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range Available() {
		Use(p)
		for _, s := range [][3]int{{1, 1, 1}, {9, 37, 19}, {64, 70, 300}, {13, 5, 600}} {
			m, n, k := s[0], s[1], s[2]
			// A dense (transposed), B shifted: X(r, s) over ch channels and 3 taps.
			ch := 1
			for k%(3*ch) == 0 && ch < 8 {
				ch++
			}
			if k%ch != 0 {
				ch = 1
			}
			taps := k / ch
			plane := n + 10
			base := randSlice(r, ch*plane)
			off := make([]int, taps)
			for i := range off {
				off[i] = i % 10
			}
			x := Shifted{Base: base, Plane: plane, Ch: ch, Off: off}
			a := randSlice(r, k*m)
			c := make([]float32, m*n)
			GemmPacked(m, n, k, DenseA(a, m, true, 1), x.PackB, 0, c, n)
			xs := make([]float32, k*n)
			for i := 0; i < k; i++ {
				copy(xs[i*n:], x.row(i, 0, n))
			}
			want := ref(true, false, m, n, k, 1, a, m, xs, n, 0, make([]float32, m*n), n)
			for i := range c {
				if math.Abs(float64(c[i])-want[i]) > 1e-4*(1+math.Abs(want[i]))*math.Sqrt(float64(k)) {
					t.Fatalf("%s %v shifted B: C[%d] = %g, want %g", p, s, i, c[i], want[i])
				}
			}
			// The same matrix as an A operand: C2 (k... use X as m'×n' with m'=k rows).
			b := randSlice(r, n*m)
			c2 := make([]float32, k*m)
			GemmPacked(k, m, n, x.PackA, DenseB(b, n, true), 0, c2, m)
			want2 := ref(false, true, k, m, n, 1, xs, n, b, n, 0, make([]float32, k*m), m)
			for i := range c2 {
				if math.Abs(float64(c2[i])-want2[i]) > 1e-4*(1+math.Abs(want2[i]))*math.Sqrt(float64(n)) {
					t.Fatalf("%s %v shifted A: C[%d] = %g, want %g", p, s, i, c2[i], want2[i])
				}
			}
		}
	}
	Use(Available()[0])
}

// testIndirect checks GemmIndirect and GemmIndirectA on the path and
// blocking in use against the float64 reference.
func testIndirect(t *testing.T, p string) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{1, 1, 1}, {1, 1086, 288}, {1, 79, 3}, {8, 32, 5}, {13, 70, 300}, {64, 1086, 288}, {32, 1030, 96}, {7, 17, 600},
		{9, 48, 70}, {8, 16, 128}, {3, 16, 9}, {16, 528, 40}, {64, 71, 576}} {
		m, n, k := s[0], s[1], s[2]
		base, boff := randRows(r, 3*n+k*5+40, n, k)
		a := randSlice(r, m*k)
		var pa PackedA
		pa.Pack(a, k, false, m, k, 1)
		for _, beta := range []float32{0, 1} {
			c := randSlice(r, m*n)
			b := make([]float32, k*n)
			for i := range boff {
				copy(b[i*n:], base[boff[i]:boff[i]+n])
			}
			want := ref(false, false, m, n, k, 1, a, k, b, n, beta, c, n)
			GemmIndirect(&pa, base, boff, n, beta, c, n)
			for i := range c {
				if math.Abs(float64(c[i])-want[i]) > 1e-4*(1+math.Abs(want[i]))*math.Sqrt(float64(k)) {
					t.Fatalf("%s %v indirect beta %g: C[%d] = %g, want %g", p, s, beta, i, c[i], want[i])
				}
			}
		}
		// Indirect A: rows of base at offsets, B dense (k×n).
		aoffA := make([]int, m)
		for i := range aoffA {
			aoffA[i] = r.IntN(len(base) - k)
		}
		bd := randSlice(r, k*n)
		for _, beta := range []float32{0, 1} {
			c := randSlice(r, m*n)
			ad := make([]float32, m*k)
			for i := range aoffA {
				copy(ad[i*k:], base[aoffA[i]:aoffA[i]+k])
			}
			want := ref(false, false, m, n, k, 1, ad, k, bd, n, beta, c, n)
			pb := PackB(make([]float32, PackedBSize(k, n)), DenseB(bd, n, false), k, n)
			GemmIndirectA(m, base, aoffA, pb, beta, c, n)
			for i := range c {
				if math.Abs(float64(c[i])-want[i]) > 1e-4*(1+math.Abs(want[i]))*math.Sqrt(float64(k)) {
					t.Fatalf("%s %v indirect A beta %g: C[%d] = %g, want %g", p, s, beta, i, c[i], want[i])
				}
			}
		}
	}
}

// TestNarrowTailsMatchWide checks the AVX-512 path's 16-column kernels of
// the last columns against the 32-column kernel's padded tiles, to the bit:
// whole and partial tiles, tails of rows, rows read in place and packed.
func TestNarrowTailsMatchWide(t *testing.T) {
	if err := Use(AVX512); err != nil {
		t.Skip("no AVX-512 path")
	}
	defer Use(Available()[0])
	defer func() { noNarrow = false }()
	r := rand.New(rand.NewPCG(11, 12))
	for _, s := range [][3]int{{9, 48, 70}, {8, 16, 600}, {3, 79, 9}, {16, 528, 40}, {64, 71, 576}, {5, 7, 33}} {
		m, n, k := s[0], s[1], s[2]
		base, boff := randRows(r, 3*n+k*5+40, n, k)
		var pa PackedA
		pa.Pack(randSlice(r, m*k), k, false, m, k, 1)
		for _, beta := range []float32{0, 1} {
			c0 := randSlice(r, m*n)
			run := func(off bool) []float32 {
				noNarrow = off
				c := append([]float32(nil), c0...)
				GemmIndirect(&pa, base, boff, n, beta, c, n)
				return c
			}
			want, got := run(true), run(false)
			if i := firstBitDiff(got, want); i >= 0 {
				t.Fatalf("%v beta %g: C[%d] = %g with the 16-column kernels, %g with the 32-column one", s, beta, i, got[i], want[i])
			}
		}
	}
}

// TestGemvTail checks the one-row product's last columns (fewer than a
// kernel's 16) to the bit against each column summed alone in order, as
// they were before they were summed side by side.
func TestGemvTail(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, p := range Available() {
		Use(p)
		for _, s := range [][2]int{{1086, 288}, {7, 9}, {79, 3}} {
			n, k := s[0], s[1]
			base, boff := randRows(r, 2*n+k*3, n, k)
			a := randSlice(r, k)
			var pa PackedA
			pa.Pack(a, k, false, 1, k, 1)
			for _, beta := range []float32{0, 1} {
				c0 := randSlice(r, n)
				c := append([]float32(nil), c0...)
				GemmIndirect(&pa, base, boff, n, beta, c, n)
				for j := n - n%16; j < n; j++ {
					var s float32
					for q, o := range boff {
						s += a[q] * base[o+j]
					}
					if beta == 1 {
						s = c0[j] + s
					}
					if math.Float32bits(c[j]) != math.Float32bits(s) {
						t.Fatalf("%s n %d k %d beta %g: C[%d] = %g, want %g summed alone", p, n, k, beta, j, c[j], s)
					}
				}
			}
		}
	}
	Use(Available()[0])
}

// TestPackedASplitMatches checks GemmIndirect on 6-row (AVX2) operands of
// m ≡ 2 (mod 6) rows, which end in two four-row panels, to the bit against
// the same products in 6-row panels and a two-row tail (each value is the
// same sum in the same order), and that the split is really taken; on
// every path (the others never split), transposed A included, over several
// k blocks, narrow columns and B rows read in place or packed.
func TestPackedASplitMatches(t *testing.T) {
	defer Use(Available()[0])
	defer func() { noSplit = false }()
	r := rand.New(rand.NewPCG(15, 16))
	for _, p := range Available() {
		Use(p)
		for _, s := range [][3]int{{8, 16, 9}, {14, 37, 40}, {32, 256, 32}, {32, 600, 1100}, {128, 48, 20}, {20, 5, 3}} {
			m, n, k := s[0], s[1], s[2]
			base, boff := randRows(r, 3*n+k*5+40, n, k)
			for _, trans := range []bool{false, true} {
				a := randSlice(r, m*k)
				lda := k
				if trans {
					lda = m
				}
				for _, beta := range []float32{0, 1} {
					c0 := randSlice(r, m*n)
					run := func(off bool) []float32 {
						noSplit = off
						var pa PackedA
						pa.Pack(a, lda, trans, m, k, 1)
						if split := pa.split != m; split != (!off && p == AVX2) {
							t.Fatalf("%s %v: split %v (at row %d)", p, s, split, pa.split)
						}
						c := append([]float32(nil), c0...)
						GemmIndirect(&pa, base, boff, n, beta, c, n)
						return c
					}
					want, got := run(true), run(false)
					if i := firstBitDiff(got, want); i >= 0 {
						t.Fatalf("%s %v trans %v beta %g: C[%d] = %g in four-row panels, %g in six", p, s, trans, beta, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// firstBitDiff returns the first index where got and want differ in their
// bits, or -1.
func firstBitDiff(got, want []float32) int {
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return i
		}
	}
	return -1
}

// randRows returns a random base of size values and k row offsets into it,
// each leaving room for n values: the B operand of an indirect product.
func randRows(r *rand.Rand, size, n, k int) ([]float32, []int) {
	base := randSlice(r, size)
	boff := make([]int, k)
	for i := range boff {
		boff[i] = r.IntN(len(base) - n)
	}
	return base, boff
}
