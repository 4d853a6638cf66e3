package nn

import (
	"fmt"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// TestNormConvMatchesUnfused checks a ResBlock in an inference graph (the
// skip concatenation never written, GroupNorm inside the convolutions, the
// whole block one op where blockFuses says so)
// against the same block in a training graph (ConcatChannels, GroupNormOp,
// ConvAdd) bit for bit, on every GEMM path: Winograd and the copied 1×1
// planes (32×32), the paths that read the input whole (6×8), a group of
// channels spanning the two parts, and a block whose residual is the
// concatenation itself.
func TestNormConvMatchesUnfused(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cases := []struct {
		n     int
		parts []int // channels of each part
		out   int
		h, w  int
	}{
		{3, []int{18, 14}, 24, 32, 32},
		{2, []int{32}, 32, 32, 32},
		{2, []int{32}, 16, 32, 32},
		{2, []int{8, 8}, 16, 32, 32},
		{2, []int{18, 14}, 24, 6, 8},
		{1, []int{16}, 8, 6, 8},
	}
	// One and two cores: the fused paths by group of samples, whatever
	// this machine's cores (on many, every batch here would be fewer
	// groups than cores, and run split within samples).
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, c := range cases {
			runtime.GOMAXPROCS(1 + c.n%2)
			in := 0
			for _, k := range c.parts {
				in += k
			}
			r := ResBlock{In: in, Out: c.out, Temb: 10, Groups: 8, Eps: 1e-5, OutScale: 1.5}
			t.Run(fmt.Sprintf("%s/%v-%d-%dx%d", p, c.parts, c.out, c.h, c.w), func(t *testing.T) {
				run := func(inference bool) []float32 {
					params := NewParams()
					r.Declare(params, 3, "blk")
					for i, k := range c.parts {
						params.Declare(fmt.Sprintf("x%d", i), uint64(10+i), Normal(1), c.n, k, c.h, c.w)
					}
					params.Declare("temb", 20, Normal(1), c.n, 10)
					// Non-trivial norms: the declared ones are 1 and 0.
					for _, name := range []string{"blk.norm1.weight", "blk.norm1.bias", "blk.norm2.weight", "blk.norm2.bias"} {
						v := params.Get(name).Data().([]float32)
						for i := range v {
							v[i] += float32(i%5)/7 - 0.2
						}
					}
					g := NewGraph(params)
					if inference {
						g.ForInference()
					}
					var parts []*G.Node
					for i := range c.parts {
						parts = append(parts, g.Param(fmt.Sprintf("x%d", i)))
					}
					out := r.ApplyParts(g, "blk", parts, SiLU(g.Param("temb")))
					return runGraph(t, g, out)[0]
				}
				sameBits(t, run(true), run(false), "fused", "unfused")
			})
		}
	}
}

// TestNormConvHasNoGradient checks that differentiating the inference-only
// fusion is an error, not a wrong gradient.
func TestNormConvHasNoGradient(t *testing.T) {
	params := NewParams()
	params.Declare("x", 1, Normal(1), 1, 4, 4, 4)
	params.Declare("w", 2, Normal(1), 4, 4, 3, 3)
	g := NewGraph(params)
	y := NormConv([]*G.Node{g.Param("x")}, nil, nil, NormSpec{}, g.Param("w"), nil, Same(3, 1, 1), nil, nil, 1)
	if _, _, err := g.Grad(Dot(y, y)); err == nil {
		t.Fatal("no error differentiating NormConv")
	}
}
