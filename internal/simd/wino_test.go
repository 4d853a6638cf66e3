package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinoTransforms checks the split, input and output transforms on every
// path against their definitions computed from the padded image in float64:
// V = Bᵀ·d·B for every tile and Y = Aᵀ·M·A + bias.
func TestWinoTransforms(t *testing.T) {
	bt := [4][4]float64{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	at := [2][4]float64{{1, 1, 1, 0}, {0, 1, -1, -1}}
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range Available() {
		Use(p)
		for _, s := range [][2]int{{16, 16}, {32, 32}, {8, 16}, {6, 48}, {2, 16}, {8, 8}, {4, 24}, {10, 40}} {
			h, w := s[0], s[1]
			t.Run(fmt.Sprintf("%s/%dx%d", p, h, w), func(t *testing.T) {
				src := randSlice(r, h*w)
				q := randSlice(r, WinoPlaneSize(h, w)) // garbage: the split must overwrite it all
				WinoSplit(q, src, h, w)
				pad := func(y, x int) float64 {
					y, x = y-1, x-1
					if y < 0 || x < 0 || y >= h || x >= w {
						return 0
					}
					return float64(src[y*w+x])
				}
				tx, ty := w/2, h/2
				// Two blocks of tile rows, the second ending at the last row.
				for _, blk := range [][2]int{{0, (ty + 1) / 2}, {(ty + 1) / 2, ty - (ty+1)/2}} {
					ty0, rows := blk[0], blk[1]
					if rows == 0 {
						continue
					}
					n := rows * tx
					vs := n + 3
					v := randSlice(r, 16*vs)
					WinoIn(v, vs, q, tx, ty0, rows)
					for k := 0; k < n; k++ {
						y0, x0 := 2*(ty0+k/tx), 2*(k%tx)
						for i := 0; i < 4; i++ {
							for j := 0; j < 4; j++ {
								var want float64
								for a := 0; a < 4; a++ {
									for b := 0; b < 4; b++ {
										want += bt[i][a] * pad(y0+a, x0+b) * bt[j][b]
									}
								}
								if got := float64(v[(4*i+j)*vs+k]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
									t.Fatalf("rows %d+%d: V[%d][%d] of tile %d = %g, want %g", ty0, rows, i, j, k, got, want)
								}
							}
						}
					}
					// Output transform of arbitrary M.
					ms := n + 5
					m := randSlice(r, 16*ms)
					out := randSlice(r, 2*rows*w)
					const bias = 0.25
					WinoOut(out, m, ms, tx, rows, bias)
					for k := 0; k < n; k++ {
						for a := 0; a < 2; a++ {
							for b := 0; b < 2; b++ {
								want := bias
								for i := 0; i < 4; i++ {
									for j := 0; j < 4; j++ {
										want += at[a][i] * float64(m[(4*i+j)*ms+k]) * at[b][j]
									}
								}
								got := float64(out[(2*(k/tx)+a)*w+2*(k%tx)+b])
								if math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
									t.Fatalf("rows %d+%d: Y[%d][%d] of tile %d = %g, want %g", ty0, rows, a, b, k, got, want)
								}
							}
						}
					}
				}
			})
		}
	}
	Use(Available()[0])
}

// TestWinoPathsAgree checks that the vector transforms give the pure-Go
// results bit for bit.
func TestWinoPathsAgree(t *testing.T) {
	if len(Available()) < 2 {
		t.Skip("only the pure-Go path on this CPU")
	}
	r := rand.New(rand.NewPCG(5, 6))
	defer func(was bool) { winoIn16 = was }(winoIn16)
	for _, wide := range []bool{false, true} {
		winoIn16 = wide
		for _, s := range [][2]int{{12, 32}, {10, 24}, {4, 64}} {
			winoAgree(t, r, s[0], s[1])
		}
	}
}

func winoAgree(t *testing.T, r *rand.Rand, h, w int) {
	src := randSlice(r, h*w)
	tx, ty := w/2, h/2
	n := ty * tx
	m := randSlice(r, 16*n)
	run := func(p Path) ([]float32, []float32, []float32) {
		Use(p)
		q := make([]float32, WinoPlaneSize(h, w))
		WinoSplit(q, src, h, w)
		v := make([]float32, 16*n)
		WinoIn(v, n, q, tx, 0, ty)
		out := make([]float32, h*w)
		WinoOut(out, m, n, tx, ty, -1.5)
		return q, v, out
	}
	q0, v0, o0 := run(PureGo)
	for _, p := range Available() {
		q, v, o := run(p)
		for name, pair := range map[string][2][]float32{"planes": {q, q0}, "V": {v, v0}, "Y": {o, o0}} {
			for i := range pair[0] {
				if pair[0][i] != pair[1][i] {
					t.Fatalf("%s %d×%d: %s[%d] = %g, pure Go %g", p, h, w, name, i, pair[0][i], pair[1][i])
				}
			}
		}
	}
	Use(Available()[0])
}

// TestParitySplit checks the plane-by-plane parity split on every path
// against its definition: plane 2·pr+pc, row y', column x' holds padded
// pixel (2y'+pr, 2x'+pc).
func TestParitySplit(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, p := range Available() {
		Use(p)
		for _, s := range [][2]int{{32, 32}, {8, 8}, {6, 24}, {2, 16}} {
			h, w := s[0], s[1]
			src := randSlice(r, h*w)
			q := randSlice(r, WinoPlaneSize(h, w))
			ParitySplit(q, src, h, w)
			l := w/2 + 1
			ps := (h/2 + 1) * l
			for pl := 0; pl < 4; pl++ {
				for y := 0; y <= h/2; y++ {
					for x := 0; x <= w/2; x++ {
						py, px := 2*y+pl/2-1, 2*x+pl%2-1
						var want float32
						if py >= 0 && px >= 0 && py < h && px < w {
							want = src[py*w+px]
						}
						if got := q[pl*ps+y*l+x]; got != want {
							t.Fatalf("%s %d×%d: plane %d (%d,%d) = %g, want %g", p, h, w, pl, y, x, got, want)
						}
					}
				}
			}
		}
	}
	Use(Available()[0])
}

// TestWinoOutAddMatchesPasses checks the output transform with a fused
// convolution's epilogue against WinoOut followed by the Affine and AXPBYC
// passes it replaces, bit for bit, on every path, for 8- and 4-lane rows,
// each combination of the added vector and the residual, and zeros of
// either sign in the products (where an FMA with +0 and a multiply differ).
func TestWinoOutAddMatchesPasses(t *testing.T) {
	defer Use(Available()[0])
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range Available() {
		Use(p)
		for _, tx := range []int{16, 4, 12} {
			for _, v := range []struct {
				addE, resid bool
				s           float32
			}{{true, false, 1}, {false, true, 0.7}, {true, true, 1 / 1.5}, {false, true, 1}} {
				rows := 3
				ms := rows*tx + 8
				m := randSlice(r, 16*ms)
				for i := 0; i < len(m); i += 7 {
					m[i] = 0 // zero outputs, and −0 ones below
				}
				skip := randSlice(r, 2*rows*2*tx)
				for i := 0; i < len(skip); i += 5 {
					skip[i] = float32(math.Copysign(0, float64(i%2)-0.5))
				}
				e := float32(r.NormFloat64())
				if !v.addE {
					e = 0
				}
				var sk []float32
				if v.resid {
					sk = skip
				}
				const bias = 0.375
				want := make([]float32, 2*rows*2*tx)
				WinoOut(want, m, ms, tx, rows, bias)
				if v.addE {
					Affine(want, want, 1, e)
				}
				if v.resid {
					AXPBYC(want, skip, want, v.s, v.s, 0)
				}
				got := randSlice(r, len(want))
				WinoOutAdd(got, m, ms, tx, rows, bias, v.addE, e, sk, v.s)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s tx %d %+v: y[%d] = %g, passes %g", p, tx, v, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkWinoTransforms times the transforms of one 32×32 channel (the
// shell's size) on the AVX-512 path with its 8-lane kernels and with the
// 16-lane input transform (winoIn16).
func BenchmarkWinoTransforms(b *testing.B) {
	if vecLanes() != 16 {
		b.Skip("no AVX-512 path")
	}
	const h, w = 32, 32
	r := rand.New(rand.NewPCG(1, 2))
	src := randSlice(r, h*w)
	tx, ty := w/2, h/2
	n := tx * ty
	q := make([]float32, WinoPlaneSize(h, w))
	v := make([]float32, 16*n)
	m := randSlice(r, 16*n)
	y := make([]float32, h*w)
	skip := randSlice(r, h*w)
	b.Run("split", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			WinoSplit(q, src, h, w)
		}
	})
	for _, wide := range []bool{false, true} {
		b.Run("in/"+map[bool]string{false: "8lanes", true: "16lanes"}[wide], func(b *testing.B) {
			defer func(was bool) { winoIn16 = was }(winoIn16)
			winoIn16 = wide
			for i := 0; i < b.N; i++ {
				WinoIn(v, n, q, tx, 0, ty)
			}
		})
	}
	b.Run("outR", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			WinoOutAdd(y, m, n, tx, ty, 0.5, false, 0, skip, 0.7)
		}
	})
}
