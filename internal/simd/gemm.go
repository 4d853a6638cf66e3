package simd

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Path names an implementation of the multiply.
type Path string

// The implementations, fastest first.
const (
	AVX512 Path = "avx512" // 8×32 micro-kernel with AVX-512F
	AVX2   Path = "avx2"   // 6×16 micro-kernel with AVX2 and FMA
	PureGo Path = "go"     // gonum's pure-Go Sgemm, on every CPU
)

// kernel is an MR×NR micro-kernel: C[0:mr,0:nr] = (acc ? C : 0) + Ap·Bp for
// packed panels Ap (k×mr, k-major) and Bp (k×nr, k-major).
type kernel struct {
	mr, nr int
	fn     func(k int, a, b, c *float32, ldc int, acc bool)
	// tail computes the first rows < mr rows of the tile (nil: fn
	// computes the whole tile into a buffer, and the rows are copied).
	tail func(k int, a, b, c *float32, ldc int, acc bool, rows int)
}

// sgemmCalls counts the products that came through BLAS.Sgemm (for tests).
var sgemmCalls atomic.Int64

var (
	path Path
	kern kernel
	blk  Blocking // the blocking of the path in use

	impl gonum.Implementation

	// caches are this machine's, read once at start-up.
	caches Caches
	// blockingEnv is CLOCKWORK_GEMM_BLOCKING, read once at start-up.
	blockingEnv string
)

func init() {
	caches = readCaches(sysCacheDir)
	blockingEnv = os.Getenv("CLOCKWORK_GEMM_BLOCKING")
	best := Available()[0]
	if p := Path(os.Getenv("CLOCKWORK_GEMM")); p != "" {
		err := Use(p)
		if err == nil {
			return
		}
		fmt.Fprintf(os.Stderr, "clockwork: CLOCKWORK_GEMM: %v; using %s\n", err, best)
	}
	Use(best)
}

// MachineCaches returns the data caches the blocking derives from.
func MachineCaches() Caches { return caches }

// CurrentBlocking returns the cache blocking of the path in use: derived
// from the caches for its micro-kernel, or as CLOCKWORK_GEMM_BLOCKING
// sets it (for experiments; a malformed value is reported on standard error
// once and ignored).
func CurrentBlocking() Blocking { return blk }

// KernelShape returns the MR×NR register tile of the path in use.
func KernelShape() (mr, nr int) {
	if path == PureGo {
		return goKernel.mr, goKernel.nr
	}
	return kern.mr, kern.nr
}

// blockingWarned is set once a malformed CLOCKWORK_GEMM_BLOCKING was reported.
var blockingWarned bool

// Available returns the paths this CPU supports, fastest first; PureGo is
// always among them.
func Available() []Path { return available() }

// Current returns the path in use.
func Current() Path { return path }

// Use selects a path (for tests and benchmarks; the default is the fastest
// the CPU supports, or the one named by the CLOCKWORK_GEMM environment
// variable). It is not safe to call while multiplies run.
func Use(p Path) error {
	for _, a := range available() {
		if a == p {
			path = p
			kern = kernels[p]
			mr, nr := KernelShape()
			blk = deriveBlocking(caches, mr, nr)
			if blockingEnv != "" {
				b, err := parseBlocking(blockingEnv, blk)
				if err != nil && !blockingWarned {
					fmt.Fprintf(os.Stderr, "clockwork: %v; using %v\n", err, blk)
					blockingWarned = true
				}
				blk = b.fit(mr, nr)
			}
			return nil
		}
	}
	return fmt.Errorf("gemm: path %q is not available on this CPU (have %v)", p, available())
}

// kBlock returns the depth of the k blocks of a product over k: at most
// the blocking's KC, and as even as possible, so that no short last block
// pays a micro-kernel call's fixed cost over a handful of steps (with KC =
// 256: 288 = 144 + 144, not 256 + 32).
func kBlock(k int) int {
	if k <= 0 {
		return 1
	}
	nb := (k + blk.KC - 1) / blk.KC
	return (k + nb - 1) / nb
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(A) is m×k, op(B) is k×n and C is m×n; transA and transB select the
// transposes. Large products are split across GOMAXPROCS goroutines. It
// panics, as BLAS does, when a slice is too short for its dimensions.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	check(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	record("sgemm", m, n, k)
	w := runtime.GOMAXPROCS(0)
	if int64(m)*int64(n)*int64(k) < 1<<17 {
		w = 1
	}
	if w <= 1 {
		serial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Split the larger of m and n into one strip per worker.
	if n >= m {
		step := roundUp((n+w-1)/w, max(kern.nr, 16))
		Parallel((n+step-1)/step, 1<<30, func(lo, hi int) {
			for s := lo; s < hi; s++ {
				j := s * step
				serial(transA, transB, m, min(step, n-j), k, alpha, a, lda, b[offset(transB, 0, j, ldb):], ldb, beta, c[j:], ldc)
			}
		})
	} else {
		step := roundUp((m+w-1)/w, max(kern.mr, 8))
		Parallel((m+step-1)/step, 1<<30, func(lo, hi int) {
			for s := lo; s < hi; s++ {
				i := s * step
				serial(transA, transB, min(step, m-i), n, k, alpha, a[offset(transA, i, 0, lda):], lda, b, ldb, beta, c[i*ldc:], ldc)
			}
		})
	}
}

// SgemmSerial is Sgemm on the calling goroutine only, for callers that
// already run one multiply per core.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	check(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	record("serial", m, n, k)
	serial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// offset returns the index of element (row r, column c) of op(X) in a
// row-major X with leading dimension ld.
func offset(trans bool, r, c, ld int) int {
	if trans {
		return c*ld + r
	}
	return r*ld + c
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

func check(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension %d×%d×%d", m, n, k))
	}
	need := func(name string, s []float32, rows, cols, ld int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic(fmt.Sprintf("gemm: leading dimension %d of %s below %d", ld, name, cols))
		}
		if len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("gemm: %s has %d elements, %d×%d with ld %d needs %d", name, len(s), rows, cols, ld, (rows-1)*ld+cols))
		}
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	need("A", a, ar, ac, lda)
	need("B", b, br, bc, ldb)
	need("C", c, m, n, ldc)
}

// buffers are the packing buffers of one goroutine.
type buffers struct {
	a, b []float32
	tmp  []float32
	off  []int
	poff []int  // offsets into a packed 16-column panel (indirectNarrow)
	rows [8]int // A row offsets of an indirect-A micro-kernel call
}

var pool = sync.Pool{New: func() any { return new(buffers) }}

// A Packer packs a block of an operand into panels of width w (MR for an A
// operand, NR for a B operand): for the outer indices [o0, o0+on) (rows of
// A, columns of B) and the inner (k) indices [p0, p0+kk) it writes
// X(o0+o, p0+p) to dst[(o/w)·w·kk + p·w + o%w], zero-padding the last panel.
// Custom packers let an operand be computed while packing, as a convolution
// reads shifted views of an image instead of an im2col matrix.
type Packer func(dst []float32, o0, on, p0, kk, w int)

// DenseA returns the packer of alpha·op(A) for a row-major A (m×k after the
// transpose).
func DenseA(a []float32, lda int, trans bool, alpha float32) Packer {
	return func(dst []float32, o0, on, p0, kk, w int) { packA(dst, a, lda, trans, o0, p0, on, kk, w, alpha) }
}

// DenseB returns the packer of op(B) for a row-major B (k×n after the
// transpose).
func DenseB(b []float32, ldb int, trans bool) Packer {
	return func(dst []float32, o0, on, p0, kk, w int) { packB(dst, b, ldb, trans, o0, on, p0, kk, w) }
}

func serial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if path == PureGo {
		ta, tb := blas.NoTrans, blas.NoTrans
		if transA {
			ta = blas.Trans
		}
		if transB {
			tb = blas.Trans
		}
		impl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m == 1 && !transB && gemv(transA, n, k, alpha, a, lda, b, ldb, beta, c) {
		return
	}
	if n < inPlaceMaxN && !transA && alpha == 1 && k > 0 && (beta == 0 || beta == 1) && indirectAKernel() != nil {
		gemmInPlaceA(m, n, k, a, lda, b, ldb, transB, beta, c, ldc)
		return
	}
	gemmPacked(m, n, k, DenseA(a, lda, transA, alpha), DenseB(b, ldb, transB), beta, c, ldc)
}

// inPlaceMaxN is the width below which serial reads an untransposed A in
// place (gemmInPlaceA) rather than packing it: with few B panels to meet,
// packing A would cost a large share of the product. Wider products pack
// it, for the cache blocking's model holds for packed panels only: rows
// read in place lie lda apart, and at a power-of-two lda they crowd a few
// cache sets (on a Zen 4 core, n = 1024 ran 10–20% slower in place).
const inPlaceMaxN = 256

// gemmInPlaceA is GemmPacked for a row-major, untransposed A read in place
// by the micro-kernel (no packing of A): per block of NC columns, B is
// packed one k block at a time and, per block of MC rows of A, each B panel
// meets every micro-panel of A rows.
func gemmInPlaceA(m, n, k int, a []float32, lda int, b []float32, ldb int, transB bool, beta float32, c []float32, ldc int) {
	ind := indirectAKernel()
	mr, nr := kern.mr, kern.nr
	buf := pool.Get().(*buffers)
	defer pool.Put(buf)
	kb, ncb, mcb := kBlock(k), ncBlock(n, nr), blk.MC
	if need := ncb * kb; len(buf.b) < need {
		buf.b = make([]float32, need)
	}
	if len(buf.tmp) < mr*nr {
		buf.tmp = make([]float32, mr*nr)
	}
	offs := &buf.rows // in the pool: a local array would escape to the heap
	for j0 := 0; j0 < n; j0 += ncb {
		nb := min(ncb, n-j0)
		nPanels := (nb + nr - 1) / nr
		for p0 := 0; p0 < k; p0 += kb {
			kk := min(kb, k-p0)
			acc := beta == 1 || p0 > 0
			packB(buf.b, b, ldb, transB, j0, nb, p0, kk, nr)
			for i0 := 0; i0 < m; i0 += mcb {
				mm := min(mcb, m-i0)
				for jp := 0; jp < nPanels; jp++ {
					j := j0 + jp*nr
					nn := min(nr, n-j)
					bp := buf.b[jp*nr*kk:]
					for ip := 0; ip*mr < mm; ip++ {
						i := i0 + ip*mr
						rows := min(mr, m-i)
						for r := 0; r < mr; r++ {
							offs[r] = (i+min(r, rows-1))*lda + p0
						}
						if rows == mr && nn == nr {
							ind(kk, &offs[0], &a[0], &bp[0], &c[i*ldc+j], ldc, acc)
							continue
						}
						ind(kk, &offs[0], &a[0], &bp[0], &buf.tmp[0], nr, false)
						mergeTile(c[i*ldc+j:], ldc, buf.tmp, nr, rows, nn, acc)
					}
				}
			}
		}
	}
}

// ncBlock returns the width of the column blocks of a product with n
// columns: at most the blocking's NC (a multiple of nr), and as even as
// possible.
func ncBlock(n, nr int) int {
	nc := max(blk.NC/nr*nr, nr)
	nb := (n + nc - 1) / nc
	return roundUp((n+nb-1)/nb, nr)
}

// GemmPacked computes C = A·B + beta·C on the calling goroutine for an m×k
// operand A and a k×n operand B given by packers; C is row-major m×n.
func GemmPacked(m, n, k int, packA, packB Packer, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	record("packed", m, n, k)
	gemmPacked(m, n, k, packA, packB, beta, c, ldc)
}

func gemmPacked(m, n, k int, packA, packB Packer, beta float32, c []float32, ldc int) {
	if len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("gemm: C has %d elements, %d×%d with ld %d needs %d", len(c), m, n, ldc, (m-1)*ldc+n))
	}
	if beta != 0 && beta != 1 || k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
		if k == 0 {
			return
		}
		beta = 1
	}
	kn := kern
	if path == PureGo {
		kn = goKernel
	}
	mr, nr := kn.mr, kn.nr
	buf := pool.Get().(*buffers)
	defer pool.Put(buf)
	kb, ncb, mcb := kBlock(k), ncBlock(n, nr), blk.MC
	if need := ncb * kb; len(buf.b) < need {
		buf.b = make([]float32, need)
	}
	if need := min(mcb, roundUp(m, mr)) * kb; len(buf.a) < need {
		buf.a = make([]float32, need)
	}
	if len(buf.tmp) < mr*nr {
		buf.tmp = make([]float32, mr*nr)
	}
	for j0 := 0; j0 < n; j0 += ncb {
		nb := min(ncb, n-j0)
		nPanels := (nb + nr - 1) / nr
		for p0 := 0; p0 < k; p0 += kb {
			kk := min(kb, k-p0)
			acc := beta == 1 || p0 > 0
			packB(buf.b, j0, nb, p0, kk, nr)
			for i0 := 0; i0 < m; i0 += mcb {
				mm := min(mcb, m-i0)
				packA(buf.a, i0, mm, p0, kk, mr)
				for jp := 0; jp < nPanels; jp++ {
					j := j0 + jp*nr
					nn := min(nr, n-j)
					bp := buf.b[jp*nr*kk:]
					for ip := 0; ip*mr < mm; ip++ {
						i := i0 + ip*mr
						rows := min(mr, m-i)
						ap := buf.a[ip*mr*kk:]
						if rows == mr && nn == nr {
							kn.fn(kk, &ap[0], &bp[0], &c[i*ldc+j], ldc, acc)
							continue
						}
						if nn == nr && kn.tail != nil {
							kn.tail(kk, &ap[0], &bp[0], &c[i*ldc+j], ldc, acc, rows)
							continue
						}
						kn.fn(kk, &ap[0], &bp[0], &buf.tmp[0], nr, false)
						mergeTile(c[i*ldc+j:], ldc, buf.tmp, nr, rows, nn, acc)
					}
				}
			}
		}
	}
}

// packA packs rows [i0, i0+mm) and columns [p0, p0+kk) of alpha·op(A) into
// mr-row panels, k-major, zero-padding the last panel.
func packA(dst, a []float32, lda int, trans bool, i0, p0, mm, kk, mr int, alpha float32) {
	for ip := 0; ip*mr < mm; ip++ {
		panel := dst[ip*mr*kk : (ip+1)*mr*kk]
		rows := min(mr, mm-ip*mr)
		base := i0 + ip*mr
		if trans {
			// op(A)[i][p] = a[p*lda+i]: each k step is a contiguous run of rows.
			for p := 0; p < kk; p++ {
				src := a[(p0+p)*lda+base : (p0+p)*lda+base+rows]
				out := panel[p*mr : p*mr+mr]
				for r, v := range src {
					out[r] = alpha * v
				}
				clear(out[rows:])
			}
			continue
		}
		if rows == 8 && mr == 8 && alpha == 1 && vecLanes() > 0 && kk >= 8 {
			_ = a[(base+7)*lda+p0+kk-1]
			k8 := kk &^ 7
			pack8x8(&panel[0], &a[base*lda+p0], lda, k8, 8)
			for r := 0; r < 8; r++ {
				for p := k8; p < kk; p++ {
					panel[p*8+r] = a[(base+r)*lda+p0+p]
				}
			}
			continue
		}
		if rows == 8 && mr == 8 && alpha == 1 {
			r := func(i int) []float32 { return a[(base+i)*lda+p0 : (base+i)*lda+p0+kk] }
			packRowsFrom8(panel, r(0), r(1), r(2), r(3), r(4), r(5), r(6), r(7))
			continue
		}
		if rows == 6 && mr == 6 && alpha == 1 {
			// The AVX2 kernel's panels: a strided scalar loop here cost a
			// tenth of an n = 512 product on a Zen 4 core.
			k4 := 0
			if vecLanes() > 0 && kk >= 4 {
				_ = a[(base+5)*lda+p0+kk-1]
				k4 = kk &^ 3
				pack6x4(&panel[0], &a[base*lda+p0], lda, k4)
			}
			r := func(i int) []float32 { return a[(base+i)*lda+p0+k4 : (base+i)*lda+p0+kk] }
			packRowsFrom6(panel[6*k4:], r(0), r(1), r(2), r(3), r(4), r(5))
			continue
		}
		if rows < mr {
			clear(panel)
		}
		for r := 0; r < rows; r++ {
			src := a[(base+r)*lda+p0 : (base+r)*lda+p0+kk]
			out := panel[r:]
			for p, v := range src {
				out[p*mr] = alpha * v
			}
		}
	}
}

// packB packs columns [j0, j0+nn) and rows [p0, p0+kk) of op(B) into
// nr-column panels, k-major, zero-padding the last panel.
func packB(dst, b []float32, ldb int, trans bool, j0, nn, p0, kk, nr int) {
	if !trans && nr == 16 && nn >= 32 && vecLanes() > 0 {
		// The AVX2 kernel's panels, the same way (packB16).
		full := nn / 16
		_ = b[(p0+kk-1)*ldb+j0+full*16-1]
		_ = dst[full*16*kk-1]
		packB16(&dst[0], &b[p0*ldb+j0], ldb, kk, full)
		if full*16 == nn {
			return
		}
		dst, j0, nn = dst[full*16*kk:], j0+full*16, nn-full*16
	}
	if !trans && nr == 32 && nn >= 64 {
		// Row by row, so that B is read sequentially (rows of a large B lie
		// pages apart, and prefetchers do not cross pages); the panels'
		// rows are written side by side.
		full := nn / 32
		if vecLanes() > 0 {
			_ = b[(p0+kk-1)*ldb+j0+full*32-1]
			_ = dst[full*32*kk-1]
			packB32(&dst[0], &b[p0*ldb+j0], ldb, kk, full)
		} else {
			for p := 0; p < kk; p++ {
				src := b[(p0+p)*ldb+j0 : (p0+p)*ldb+j0+nn]
				for jp := 0; jp < full; jp++ {
					*(*[32]float32)(dst[jp*32*kk+p*32:]) = *(*[32]float32)(src[jp*32:])
				}
			}
		}
		if full*32 == nn {
			return
		}
		dst, j0, nn = dst[full*32*kk:], j0+full*32, nn-full*32
	}
	for jp := 0; jp*nr < nn; jp++ {
		panel := dst[jp*nr*kk : (jp+1)*nr*kk]
		c0 := j0 + jp*nr
		cols := min(nr, nn-jp*nr)
		if trans && cols == nr && nr%8 == 0 && vecLanes() > 0 && kk >= 8 {
			// Eight columns at a time by 8×8 transposes; then the last
			// kk mod 8 rows.
			_ = b[(c0+nr-1)*ldb+p0+kk-1]
			k8 := kk &^ 7
			for q := 0; q < nr; q += 8 {
				pack8x8(&panel[q], &b[(c0+q)*ldb+p0], ldb, k8, nr)
			}
			for q := 0; q < nr; q++ {
				for p := k8; p < kk; p++ {
					panel[p*nr+q] = b[(c0+q)*ldb+p0+p]
				}
			}
			continue
		}
		if trans {
			// op(B)[p][j] = b[j*ldb+p]
			if cols < nr {
				clear(panel)
			}
			for q := 0; q < cols; q++ {
				src := b[(c0+q)*ldb+p0 : (c0+q)*ldb+p0+kk]
				for p, v := range src {
					panel[p*nr+q] = v
				}
			}
			continue
		}
		if cols == 32 && nr == 32 {
			// (Go compiles these fixed-size copies to runtime.memmove
			// calls; the vector paths pack whole rows in assembly above.)
			for p := 0; p < kk; p++ {
				*(*[32]float32)(panel[p*32:]) = *(*[32]float32)(b[(p0+p)*ldb+c0:])
			}
			continue
		}
		if cols == 16 && nr == 16 {
			for p := 0; p < kk; p++ {
				*(*[16]float32)(panel[p*16:]) = *(*[16]float32)(b[(p0+p)*ldb+c0:])
			}
			continue
		}
		for p := 0; p < kk; p++ {
			row := panel[p*nr : (p+1)*nr]
			n := copy(row[:cols], b[(p0+p)*ldb+c0:])
			clear(row[n:])
		}
	}
}

// mergeTile writes (or with acc adds) the rows×cols corner of a tile
// computed into tmp (row stride nr) into C at c (row stride ldc): how
// partial edge tiles, which the micro-kernels compute whole, reach C.
func mergeTile(c []float32, ldc int, tmp []float32, nr, rows, cols int, acc bool) {
	for r := 0; r < rows; r++ {
		dst := c[r*ldc : r*ldc+cols]
		src := tmp[r*nr : r*nr+cols]
		if acc {
			for q, v := range src {
				dst[q] += v
			}
		} else {
			copy(dst, src)
		}
	}
}
