package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// TestPool2x checks the 2×2 pool on every path, bit for bit against the
// sums written out in order, at widths the vector kernel serves (multiples
// of 16) and widths it leaves to Go, with a scale of 1 and of ¼.
func TestPool2x(t *testing.T) {
	defer Use(Current())
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range Available() {
		if err := Use(p); err != nil {
			t.Fatal(err)
		}
		for _, rows := range []int{0, 1, 3, 17} {
			for _, w := range []int{1, 5, 8, 16, 32, 48} {
				src := randSlice(r, 4*rows*w+3)
				if len(src) > 10 {
					src[7] = float32(math.Inf(1))
				}
				for _, scale := range []float32{1, 0.25} {
					dst := make([]float32, rows*w+2)
					dst[rows*w], dst[rows*w+1] = 7, 7
					Pool2x(dst, src, rows, w, scale)
					for q := 0; q < rows; q++ {
						for x := 0; x < w; x++ {
							a := src[2*q*2*w+2*x : 2*q*2*w+2*x+2]
							b := src[(2*q+1)*2*w+2*x : (2*q+1)*2*w+2*x+2]
							want := (a[0] + a[1] + b[0] + b[1]) * scale
							if got := dst[q*w+x]; !sameBits(got, want) {
								t.Fatalf("%s rows %d w %d scale %g: dst[%d][%d] = %g, want %g", p, rows, w, scale, q, x, got, want)
							}
						}
					}
					if dst[rows*w] != 7 || dst[rows*w+1] != 7 {
						t.Fatalf("%s rows %d w %d: wrote past the output", p, rows, w)
					}
				}
			}
		}
	}
}

// TestToSpaceAdd4 checks the 4× depth-to-space with a residual on every
// path, bit for bit against the formula, for widths the vector kernel
// serves (multiples of 8) and widths it leaves to Go.
func TestToSpaceAdd4(t *testing.T) {
	defer Use(Current())
	r := rand.New(rand.NewPCG(7, 8))
	for _, p := range Available() {
		if err := Use(p); err != nil {
			t.Fatal(err)
		}
		for _, h := range []int{1, 2, 3, 8} {
			for _, w := range []int{1, 5, 8, 16, 24} {
				n := 16 * h * w
				deep, base := randSlice(r, n), randSlice(r, n)
				out := make([]float32, n+1)
				out[n] = 7
				ToSpaceAdd4(out, base, deep, h, w)
				for y := 0; y < 4*h; y++ {
					for x := 0; x < 4*w; x++ {
						c := (y%4)*4 + x%4
						want := base[y*4*w+x] + deep[c*h*w+(y/4)*w+x/4]
						if got := out[y*4*w+x]; !sameBits(got, want) {
							t.Fatalf("%s h %d w %d: out[%d][%d] = %g, want %g", p, h, w, y, x, got, want)
						}
					}
				}
				if out[n] != 7 {
					t.Fatalf("%s h %d w %d: wrote past the plane", p, h, w)
				}
			}
		}
	}
}
