package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

func sig64(t float64) float64 { return 1 / (1 + math.Exp(-t)) }

func close32(t *testing.T, what string, got float32, want, tol float64) {
	t.Helper()
	if math.IsNaN(float64(got)) || math.Abs(float64(got)-want) > tol*(1+math.Abs(want)) {
		t.Fatalf("%s = %.8g, want %.8g", what, got, want)
	}
}

// TestVectorRoutines checks every vector routine on every path against a
// float64 reference, at lengths that leave tails, including inputs where exp
// saturates.
func TestVectorRoutines(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range Available() {
		if err := Use(p); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 7, 8, 16, 33, 100, 1031} {
			x := randSlice(r, n)
			y := randSlice(r, n)
			for i := range x {
				x[i] *= 3
			}
			if n > 2 {
				x[0], x[1] = 120, -120 // exp overflow and underflow must saturate
			}
			dst := make([]float32, n)
			const a, b = 1.7, -0.3
			AffineSiLU(dst, x, a, b)
			for i := range x {
				tt := a*float64(x[i]) + b
				close32(t, string(p)+" AffineSiLU", dst[i], tt*sig64(tt), 2e-6)
			}
			// The same values whether a vector is done alone or in a pair
			// (the AVX-512 loop's two at a time): one lane of 16 at a time.
			for i := 0; i+16 <= n; i += 16 {
				var one [16]float32
				AffineSiLU(one[:], x[i:i+16], a, b)
				if one != [16]float32(dst[i:i+16]) {
					t.Fatalf("%s AffineSiLU of %d values: values %d to %d differ from the same 16 alone", p, n, i, i+15)
				}
			}
			Affine(dst, x, a, b)
			for i := range x {
				close32(t, string(p)+" Affine", dst[i], a*float64(x[i])+b, 1e-6)
			}
			if n > 2 {
				x[0], x[1] = 0.5, -0.25
			}
			mean, rstd := MeanRstd(x, 1e-5)
			var m, v float64
			for _, e := range x {
				m += float64(e)
			}
			m /= float64(n)
			for _, e := range x {
				v += (float64(e) - m) * (float64(e) - m)
			}
			v /= float64(n)
			close32(t, string(p)+" mean", float32(mean), m, 1e-6)
			close32(t, string(p)+" rstd", float32(rstd), 1/math.Sqrt(v+1e-5), 1e-5)
			for _, silu := range []bool{false, true} {
				const mu, rs, ga, be = 0.1, 1.3, 0.8, 0.2
				sdx, sd := GNBackward(dst, y, x, mu, rs, ga, be, silu)
				var wsdx, wsd float64
				for i := range x {
					xh := (float64(x[i]) - float64(float32(mu))) * float64(float32(rs))
					d := float64(y[i])
					if silu {
						tt := float64(float32(ga))*xh + float64(float32(be))
						s := sig64(tt)
						d *= s * (1 + tt*(1-s))
					}
					close32(t, string(p)+" GNBackward d", dst[i], d, 1e-5)
					wsdx += d * xh
					wsd += d
				}
				close32(t, string(p)+" GNBackward Σd·x̂", float32(sdx), wsdx, 1e-4)
				close32(t, string(p)+" GNBackward Σd", float32(sd), wsd, 1e-4)
			}
			sm := append([]float32(nil), x...)
			Softmax(sm)
			var mx, den float64 = math.Inf(-1), 0
			for _, e := range x {
				mx = math.Max(mx, float64(e))
			}
			for _, e := range x {
				den += math.Exp(float64(e) - mx)
			}
			for i := range x {
				close32(t, string(p)+" Softmax", sm[i], math.Exp(float64(x[i])-mx)/den, 1e-6)
			}
			var mx32 float32 = x[0]
			var dt float64
			for i, e := range x {
				mx32 = max(mx32, e)
				dt += float64(e) * float64(y[i])
			}
			if got := Max(x); got != mx32 {
				t.Fatalf("%s Max = %g, want %g", p, got, mx32)
			}
			close32(t, string(p)+" Dot", float32(Dot(x, y)), dt, 1e-5)
			g := append([]float32(nil), y...)
			SoftmaxGrad(g, sm, 0.3)
			var pd float64
			for i := range sm {
				pd += float64(sm[i]) * float64(y[i])
			}
			for i := range g {
				close32(t, string(p)+" SoftmaxGrad", g[i], 0.3*float64(sm[i])*(float64(y[i])-pd), 1e-5)
			}
			AXPBYC(dst, y, x, 0.5, -2, 0.25)
			for i := range x {
				close32(t, string(p)+" AXPBYC", dst[i], 0.5*float64(y[i])-2*float64(x[i])+0.25, 1e-6)
			}
		}
	}
	Use(Available()[0])
}

// TestElementwiseIgnoresPosition: the elementwise routines give each
// element the same bits wherever it lies in the slice (a row of 10 alone
// or inside a batch of rows), on every path: the remainder past the last
// whole vector runs through the vector kernel too.
func TestElementwiseIgnoresPosition(t *testing.T) {
	defer Use(Available()[0])
	r := rand.New(rand.NewPCG(5, 6))
	const n = 37
	x, y := randSlice(r, n+16), randSlice(r, n+16)
	for _, path := range Available() {
		if err := Use(path); err != nil {
			t.Fatal(err)
		}
		// run applies the routines to the n values starting at off and
		// returns their results.
		run := func(off int) [3][]float32 {
			var out [3][]float32
			for k := range out {
				out[k] = make([]float32, n)
			}
			AffineSiLU(out[0], x[off:off+n], 1.3, -0.2)
			Affine(out[1], x[off:off+n], 0.7, 0.1)
			AXPBYC(out[2], y[off:off+n], x[off:off+n], 0.3, -1.1, 0.05)
			return out
		}
		names := [3]string{"AffineSiLU", "Affine", "AXPBYC"}
		base := run(0)
		for off := 1; off < 16; off++ {
			got := run(off)
			for k := range got {
				// Element i of the run at off is element i+off of x.
				for i := 0; i+off < n; i++ {
					if math.Float32bits(got[k][i]) != math.Float32bits(base[k][i+off]) {
						t.Fatalf("%s %s: x[%d] gives other bits at position %d than at %d", path, names[k], i+off, i, i+off)
					}
				}
			}
		}
	}
}

// TestAffineRows checks AffineRows to the bit against Affine row by row,
// on every path, for rows a vector's multiple long and not.
func TestAffineRows(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, p := range Available() {
		if err := Use(p); err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{32, 16, 7, 33} {
			const rows, ss, ds = 5, 50, 40
			src := randSlice(r, rows*ss)
			got, want := randSlice(r, rows*ds), make([]float32, rows*ds)
			copy(want, got)
			AffineRows(got, ds, src, ss, rows, w, 1.3, -0.2)
			for i := 0; i < rows; i++ {
				Affine(want[i*ds:i*ds+w], src[i*ss:i*ss+w], 1.3, -0.2)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s w %d: value %d is %g, want %g (Affine row by row; between rows untouched)", p, w, i, got[i], want[i])
				}
			}
		}
	}
	Use(Available()[0])
}

// TestPadRows checks PadRows on every path against the copy it stands
// for: each row in place, the gap after it zeroed (cut where dst ends),
// everything else untouched.
func TestPadRows(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, p := range Available() {
		if err := Use(p); err != nil {
			t.Fatal(err)
		}
		for _, c := range [][4]int{{32, 32, 34, 2}, {5, 16, 18, 2}, {3, 7, 9, 2}, {4, 16, 16, 0}, {2, 32, 40, 5}} {
			rows, w, stride, gap := c[0], c[1], c[2], c[3]
			src := randSlice(r, rows*w)
			for _, extra := range []int{0, 1, 8} { // dst ends inside the last gap, or past it
				n := (rows-1)*stride + w + extra
				got := randSlice(r, n)
				want := append([]float32(nil), got...)
				for i := 0; i < rows; i++ {
					copy(want[i*stride:], src[i*w:(i+1)*w])
					for k := i*stride + w; k < min(n, i*stride+w+gap); k++ {
						want[k] = 0
					}
				}
				PadRows(got, src, rows, w, stride, gap)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s %v, %d past the last row: value %d is %g, want %g", p, c, extra, i, got[i], want[i])
					}
				}
			}
		}
	}
	Use(Available()[0])
}

// TestMeanRstdMany checks that MeanRstdMany gives MeanRstd's values to the
// bit on every path, four slices at a time and not (lengths that differ,
// shorter than a vector, a count not a multiple of four), constant slices
// included.
func TestMeanRstdMany(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range Available() {
		if err := Use(p); err != nil {
			t.Fatal(err)
		}
		for _, lens := range [][]int{
			{4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096},
			{1031, 1031, 1031, 1031},
			{33, 33, 33, 34, 33, 33, 33, 33},
			{7, 7, 7, 7, 7},
			{16, 16, 16, 16, 512, 512, 512},
		} {
			xs := make([][]float32, len(lens))
			for i, n := range lens {
				xs[i] = randSlice(r, n)
				for j := range xs[i] {
					xs[i][j] = 3*xs[i][j] + float32(i)
				}
			}
			for j := range xs[1] {
				xs[1][j] = 0.25 // a constant group: zero variance
			}
			mean, rstd := make([]float64, len(xs)), make([]float64, len(xs))
			MeanRstdMany(xs, 1e-5, mean, rstd)
			for i, x := range xs {
				wm, wr := MeanRstd(x, 1e-5)
				if math.Float64bits(mean[i]) != math.Float64bits(wm) || math.Float64bits(rstd[i]) != math.Float64bits(wr) {
					t.Fatalf("%s lengths %v slice %d: MeanRstdMany %v, %v; MeanRstd %v, %v", p, lens, i, mean[i], rstd[i], wm, wr)
				}
			}
		}
	}
}
