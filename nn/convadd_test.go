package nn

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// TestConvAddMatchesUnfused checks that the fused convolution equals
// Conv2d followed by AddChannel and AddScaled bit for bit, forward and
// backward, where each channel's values fill whole vectors (every shape of
// the shipped models), on every GEMM path and through every convolution path
// (Winograd, the shifted-view GEMM with and without padding, the parity
// planes of stride 2, im2col).
func TestConvAddMatchesUnfused(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	type shape struct {
		n, cin, cout, h, w int
		geom               ConvGeom
	}
	shapes := []shape{
		{3, 32, 32, 32, 32, Same(3, 1, 1)},                                   // Winograd, the shell's shape
		{2, 24, 40, 32, 32, Same(3, 1, 1)},                                   // Winograd, several row blocks
		{2, 3, 5, 6, 8, Same(3, 1, 1)},                                       // padded shifted views
		{2, 20, 8, 5, 5, Same(1, 1, 0)},                                      // 1×1, read in place
		{2, 6, 7, 8, 8, Same(3, 2, 1)},                                       // parity planes
		{2, 3, 4, 6, 6, ConvGeom{KH: 3, KW: 3, Stride: 2, PadB: 1, PadR: 1}}, // im2col
		{2, 20, 8, 16, 32, Same(1, 1, 0)},                                    // 1×1, planes copied skewed
		{2, 16, 16, 6, 8, Same(3, 1, 1)},                                     // Winograd, 4-lane transforms
		{16, 32, 32, 8, 8, Same(3, 1, 1)},                                    // Winograd, several samples a group
	}
	type variant struct {
		e, skip bool
		s       float32
	}
	variants := []variant{{true, false, 1}, {false, true, 1}, {false, true, 0.7}, {true, true, 0.5}}
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, sh := range shapes {
			ho, wo := sh.geom.Out(sh.h, sh.w)
			for _, v := range variants {
				t.Run(fmt.Sprintf("%s/%d-%d-%dx%d-%v/e=%t,skip=%t,s=%g", p, sh.cin, sh.cout, sh.h, sh.w, sh.geom, v.e, v.skip, v.s), func(t *testing.T) {
					run := func(fused bool) [][]float32 {
						params := NewParams()
						params.Declare("x", 1, Normal(1), sh.n, sh.cin, sh.h, sh.w)
						params.Declare("w", 2, Normal(0.2), sh.cout, sh.cin, sh.geom.KH, sh.geom.KW)
						params.Declare("b", 3, Normal(0.5), sh.cout)
						params.Declare("e", 4, Normal(1), sh.n, sh.cout)
						params.Declare("skip", 5, Normal(1), sh.n, sh.cout, ho, wo)
						g := NewGraph(params)
						var e, skip *G.Node
						if v.e {
							e = g.Param("e")
						}
						if v.skip {
							skip = g.Param("skip")
						}
						var y *G.Node
						if fused {
							y = ConvAdd(g.Param("x"), g.Param("w"), g.Param("b"), sh.geom, e, skip, v.s)
						} else {
							y = Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), sh.geom)
							if e != nil {
								y = AddChannel(y, e)
							}
							if skip != nil {
								y = AddScaled(skip, y, v.s)
							}
						}
						r := g.Input("r", sh.n, sh.cout, ho, wo)
						rv := make([]float32, sh.n*sh.cout*ho*wo)
						for i := range rv {
							rv[i] = float32(i%13)/6 - 1
						}
						if err := Let(r, tensor.New(tensor.WithShape(sh.n, sh.cout, ho, wo), tensor.WithBacking(rv))); err != nil {
							t.Fatal(err)
						}
						_, grads, err := g.Grad(Dot(y, r))
						if err != nil {
							t.Fatal(err)
						}
						return runGraph(t, g, append([]*G.Node{y}, grads...)...)
					}
					want, got := run(false), run(true)
					if len(want) != len(got) {
						t.Fatalf("%d gradients fused, %d unfused", len(got)-1, len(want)-1)
					}
					// Where a channel's values do not fill whole vectors, the
					// residual's scaling rounds differently in the scalar tail
					// (a multiply and an add, not one FMA): within 2 ulps there.
					exact := (ho*wo)%16 == 0
					for k := range want {
						for i := range want[k] {
							if d := math.Abs(float64(got[k][i] - want[k][i])); !exact && d <= 2.5e-7*math.Max(1, math.Abs(float64(want[k][i]))) {
								continue
							}
							if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
								t.Fatalf("tensor %d (0: output, then gradients) value %d: fused %g, unfused %g", k, i, got[k][i], want[k][i])
							}
						}
					}
				})
			}
		}
	}
}
