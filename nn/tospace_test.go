package nn

import (
	"fmt"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// TestNormConvToSpaceAddMatchesUnfused checks the fused adaptor head
// against GroupNormOp, Conv2d and AddDepthToSpace to the bit, on every GEMM
// path: the adaptor's shape (8×8, 32 channels to 64·16, and to 32·16 for
// a batch of one, which splits its convolution across cores), planes that
// do not fill whole vectors, and a head without bias or SiLU.
func TestNormConvToSpaceAddMatchesUnfused(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	cases := []struct {
		n, c, o, h, w int
		bias, silu    bool
	}{
		{3, 32, 64, 8, 8, true, true},
		{1, 32, 32, 8, 8, true, true},
		{2, 16, 8, 6, 8, true, true},
		{2, 16, 8, 5, 3, false, false},
	}
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%d-%d-%dx%d", p, c.c, c.o, c.h, c.w), func(t *testing.T) {
				params := NewParams()
				params.Declare("x", 1, Normal(1), c.n, c.c, c.h, c.w)
				params.Declare("base", 2, Normal(1), c.n, c.o, 4*c.h, 4*c.w)
				params.Declare("norm.weight", 3, Normal(1), c.c)
				params.Declare("norm.bias", 4, Normal(1), c.c)
				params.Declare("conv.weight", 5, Normal(0.2), 16*c.o, c.c, 1, 1)
				params.Declare("conv.bias", 6, Normal(1), 16*c.o)
				run := func(fused bool) []float32 {
					g := NewGraph(params)
					var b *G.Node
					if c.bias {
						b = g.Param("conv.bias")
					}
					var out *G.Node
					if fused {
						out = NormConvToSpaceAdd(g.Param("x"), g.Param("norm.weight"), g.Param("norm.bias"), NormSpec{Groups: 8, Eps: 1e-5, SiLU: c.silu},
							g.Param("conv.weight"), b, g.Param("base"))
					} else {
						h := GroupNormOp(g.Param("x"), g.Param("norm.weight"), g.Param("norm.bias"), 8, 1e-5, c.silu)
						out = AddDepthToSpace(g.Param("base"), Conv2d(h, g.Param("conv.weight"), b, Same(1, 1, 0)), 4)
					}
					return runGraph(t, g, out)[0]
				}
				sameBits(t, run(true), run(false), "fused", "unfused")
			})
		}
	}
}

// TestNormConvToSpaceAddShapes checks the fused head's shape errors.
func TestNormConvToSpaceAddShapes(t *testing.T) {
	for _, c := range []struct {
		name    string
		w, base []int
		want    string
	}{
		{"3×3 filters", []int{64, 16, 3, 3}, []int{1, 4, 16, 16}, "not 1×1"},
		{"outputs not a multiple of 16", []int{40, 16, 1, 1}, []int{1, 4, 16, 16}, "multiple of 16"},
		{"base of another size", []int{64, 16, 1, 1}, []int{1, 4, 8, 8}, "base"},
	} {
		t.Run(c.name, func(t *testing.T) {
			params := NewParams()
			params.Declare("x", 1, Normal(1), 1, 16, 4, 4)
			params.Declare("norm.weight", 3, Const(1), 16)
			params.Declare("norm.bias", 4, Const(0), 16)
			params.Declare("conv.weight", 5, Normal(1), c.w...)
			params.Declare("base", 2, Normal(1), c.base...)
			g := NewGraph(params)
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), c.want) {
					t.Fatalf("recovered %v, want an error with %q", r, c.want)
				}
			}()
			NormConvToSpaceAdd(g.Param("x"), g.Param("norm.weight"), g.Param("norm.bias"), NormSpec{Groups: 8, Eps: 1e-5, SiLU: true}, g.Param("conv.weight"), nil, g.Param("base"))
		})
	}
}
