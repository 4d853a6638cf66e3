package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// TestWinogradMatchesDirect checks the Winograd convolution and its input
// gradient against the direct method (whose gradients the finite-difference
// tests check) on every GEMM path, over shapes that use one or several
// blocks of tile rows, channel counts that are not multiples of the
// micro-kernel's panels, and with and without bias.
func TestWinogradMatchesDirect(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	defer func() { winogradOff = false }()
	shapes := []struct{ n, cin, cout, h, w int }{
		{3, 16, 16, 16, 16},
		{2, 24, 40, 32, 32},
		{2, 130, 17, 8, 16},
		{1, 20, 33, 6, 48},
		{16, 64, 64, 8, 8},
		{5, 40, 24, 4, 8},
	}
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, s := range shapes {
			for _, bias := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%v/bias=%t", p, s, bias), func(t *testing.T) {
					if !useWinograd(Same(3, 1, 1), s.cin, s.cout, s.h, s.w) {
						t.Fatal("shape does not take the Winograd path")
					}
					run := func(off bool) (y, dx []float32) {
						winogradOff = off
						g, out, gx := convAndGradient(s.n, s.cin, s.cout, s.h, s.w, bias)
						m, err := g.Compile()
						if err != nil {
							t.Fatal(err)
						}
						defer m.Close()
						if err := m.Run(); err != nil {
							t.Fatal(err)
						}
						// Change the filters in place, as an optimizer step does:
						// the transformed filters must follow.
						wd := g.Param("w").Value().Data().([]float32)
						for i := range wd {
							wd[i] *= -1.5
						}
						if err := m.Run(); err != nil {
							t.Fatal(err)
						}
						return append([]float32(nil), out.Value().Data().([]float32)...),
							append([]float32(nil), gx.Value().Data().([]float32)...)
					}
					y0, dx0 := run(true)
					y1, dx1 := run(false)
					for name, pair := range map[string][2][]float32{"output": {y1, y0}, "input gradient": {dx1, dx0}} {
						got, want := pair[0], pair[1]
						for i := range want {
							if math.Abs(float64(got[i]-want[i])) > 2e-5*(1+math.Abs(float64(want[i]))) {
								t.Fatalf("%s[%d] = %g, direct %g", name, i, got[i], want[i])
							}
						}
					}
				})
			}
		}
	}
}

// convAndGradient builds a 3×3 convolution (stride 1, padding 1) of n
// samples of cin×h×w to cout channels, with a bias if asked, and its input
// gradient for a fixed random output gradient: the graph, the output and
// the gradient's nodes.
func convAndGradient(n, cin, cout, h, w int, bias bool) (*Graph, *G.Node, *G.Node) {
	params := NewParams()
	params.Declare("x", 7, Normal(1), n, cin, h, w)
	params.Declare("w", 8, Normal(0.2), cout, cin, 3, 3)
	g := NewGraph(params)
	var b *G.Node
	if bias {
		params.Declare("b", 9, Normal(0.5), cout)
		b = g.Param("b")
	}
	out := Conv2d(g.Param("x"), g.Param("w"), b, Same(3, 1, 1))
	gy := g.Input("gy", out.Shape()...)
	r := rand.New(rand.NewPCG(10, 11))
	d := make([]float32, out.Shape().TotalSize())
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	Let(gy, tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(d)))
	return g, out, convBackwardData(g.Param("w"), gy, g.Param("x").Shape(), Same(3, 1, 1))
}

// TestStride2ParityMatchesIm2col checks the parity-plane stride-2
// convolution against the im2col one on every GEMM path.
func TestStride2ParityMatchesIm2col(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	defer func() { winogradOff = false }()
	shapes := []struct{ n, cin, cout, h, w int }{{3, 5, 9, 8, 8}, {2, 32, 40, 32, 32}, {1, 17, 8, 6, 24}}
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, s := range shapes {
			if !useParity(Same(3, 2, 1), s.h, s.w) {
				t.Fatalf("%v does not take the parity path", s)
			}
			run := func(off bool) []float32 {
				winogradOff = off
				params := NewParams()
				params.Declare("x", 7, Normal(1), s.n, s.cin, s.h, s.w)
				params.Declare("w", 8, Normal(0.2), s.cout, s.cin, 3, 3)
				params.Declare("b", 9, Normal(0.5), s.cout)
				g := NewGraph(params)
				out := Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), Same(3, 2, 1))
				return runGraph(t, g, out)[0]
			}
			want, got := run(true), run(false)
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 2e-5*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("%s %v: output[%d] = %g, im2col %g", p, s, i, got[i], want[i])
				}
			}
		}
	}
}

// TestConv1x1PlanesCopiedMatchNaive checks 1×1 convolutions whose planes
// lie a multiple of 2 KiB apart (read by the GEMM from a copy, see conv1),
// forward and input gradient, against sums written out, on every GEMM path.
func TestConv1x1PlanesCopiedMatchNaive(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	shapes := []struct{ n, cin, cout, h, w int }{{3, 96, 32, 32, 32}, {2, 20, 33, 16, 32}, {1, 7, 5, 8, 8}}
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, s := range shapes {
			params := NewParams()
			params.Declare("x", 7, Normal(1), s.n, s.cin, s.h, s.w)
			params.Declare("w", 8, Normal(0.2), s.cout, s.cin, 1, 1)
			params.Declare("b", 9, Normal(0.5), s.cout)
			g := NewGraph(params)
			out := Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), Same(1, 1, 0))
			gy := g.Input("gy", out.Shape()...)
			d := make([]float32, out.Shape().TotalSize())
			for i := range d {
				d[i] = float32(i%11)/5 - 1
			}
			if err := Let(gy, tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(d))); err != nil {
				t.Fatal(err)
			}
			gx := convBackwardData(g.Param("w"), gy, g.Param("x").Shape(), Same(1, 1, 0))
			m, err := g.Compile()
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Run(); err != nil {
				t.Fatal(err)
			}
			x := g.Param("x").Value().Data().([]float32)
			w := g.Param("w").Value().Data().([]float32)
			b := g.Param("b").Value().Data().([]float32)
			y, dx := out.Value().Data().([]float32), gx.Value().Data().([]float32)
			hw := s.h * s.w
			for i := 0; i < s.n; i++ {
				for j := 0; j < hw; j++ {
					for o := 0; o < s.cout; o++ {
						want := float64(b[o])
						for c := 0; c < s.cin; c++ {
							want += float64(w[o*s.cin+c]) * float64(x[(i*s.cin+c)*hw+j])
						}
						if got := y[(i*s.cout+o)*hw+j]; math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
							t.Fatalf("%s %v: y[%d,%d,%d] = %g, want %g", p, s, i, o, j, got, want)
						}
					}
					for c := 0; c < s.cin; c++ {
						var want float64
						for o := 0; o < s.cout; o++ {
							want += float64(w[o*s.cin+c]) * float64(d[(i*s.cout+o)*hw+j])
						}
						if got := dx[(i*s.cin+c)*hw+j]; math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
							t.Fatalf("%s %v: dx[%d,%d,%d] = %g, want %g", p, s, i, c, j, got, want)
						}
					}
				}
			}
			m.Close()
		}
	}
}

// TestWithinMatchesBySamples runs a fused up-block ResNet (two parts,
// GroupNorm and SiLU on the way in, the time embedding and the shortcut in
// the epilogue, a 1×1 shortcut convolution) on a batch of one and of
// three, with each sample's convolutions split across cores (convWithin
// for the Winograd ones, conv1Within for the 1×1 one, what fewer samples
// than cores take) and split by samples, and likewise a stride-2
// convolution and the adaptor head: every value must be the same to the bit, on every GEMM
// path.
func TestWithinMatchesBySamples(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	defer func() { withinOff = false }()
	const temb = 10
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, c := range []struct {
			n, out, h, w int
			parts        []int
		}{{1, 32, 32, 32, []int{32, 32}}, {3, 64, 16, 16, []int{64, 32}}, {1, 16, 8, 8, []int{64}}} {
			in := 0
			for _, k := range c.parts {
				in += k
			}
			r := ResBlock{In: in, Out: c.out, Temb: temb, Groups: 8, Eps: 1e-5, OutScale: 1}
			run := func(off bool) []float32 {
				withinOff = off
				params := NewParams()
				r.Declare(params, 3, "blk")
				for i, k := range c.parts {
					params.Declare(fmt.Sprintf("x%d", i), uint64(10+i), Normal(1), c.n, k, c.h, c.w)
				}
				params.Declare("temb", 20, Normal(1), c.n, temb)
				g := NewGraph(params).ForInference()
				var parts []*G.Node
				for i := range c.parts {
					parts = append(parts, g.Param(fmt.Sprintf("x%d", i)))
				}
				return runGraph(t, g, r.ApplyParts(g, "blk", parts, SiLU(g.Param("temb"))))[0]
			}
			sameBits(t, run(false), run(true), fmt.Sprintf("%s n=%d %v split within", p, c.n, c.parts), "by samples")
		}
	}
	// The stride-2 3×3 convolution (a Downsample2D), with its bias, and the
	// adaptor head (NormConvToSpaceAdd: its phases over the batch, the
	// convolution split within each sample).
	ops := []struct {
		name    string
		declare func(params *Params, n int)
		build   func(g *Graph) *G.Node
	}{{"stride 2", func(params *Params, n int) {
		params.Declare("x", 11, Normal(1), n, 32, 32, 32)
		params.Declare("w", 12, Normal(0.2), 32, 32, 3, 3)
		params.Declare("b", 13, Normal(0.5), 32)
	}, func(g *Graph) *G.Node {
		return Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), Same(3, 2, 1))
	}}, {"adaptor head", func(params *Params, n int) {
		params.Declare("x", 11, Normal(1), n, 32, 8, 8)
		params.Declare("base", 12, Normal(1), n, 32, 32, 32)
		params.Declare("gamma", 13, Normal(1), 32)
		params.Declare("beta", 14, Normal(1), 32)
		params.Declare("w", 15, Normal(0.2), 512, 32, 1, 1)
		params.Declare("b", 16, Normal(0.5), 512)
	}, func(g *Graph) *G.Node {
		return NormConvToSpaceAdd(g.Param("x"), g.Param("gamma"), g.Param("beta"), NormSpec{Groups: 8, Eps: 1e-5, SiLU: true},
			g.Param("w"), g.Param("b"), g.Param("base"))
	}}}
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, op := range ops {
			for _, n := range []int{1, 3} {
				run := func(off bool) []float32 {
					withinOff = off
					params := NewParams()
					op.declare(params, n)
					g := NewGraph(params).ForInference()
					return runGraph(t, g, op.build(g))[0]
				}
				sameBits(t, run(false), run(true), fmt.Sprintf("%s n=%d %s split within", p, n, op.name), "by samples")
			}
		}
	}
}

// TestWinogradBlocksSameBits: the block a pass transforms (winoBudget,
// from the L2 cache) changes no value: a small budget, several blocks of
// tile rows per sample and one sample per group, gives the machine's
// budget's bits, forward and for the input gradient, on every GEMM path.
func TestWinogradBlocksSameBits(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	defer func(b int) { winoBudget = b }(winoBudget)
	budget := winoBudget
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, s := range []struct{ n, cin, cout, h, w int }{{3, 32, 32, 32, 32}, {5, 64, 48, 8, 8}} {
			run := func(b int) []float32 {
				winoBudget = b
				g, out, gx := convAndGradient(s.n, s.cin, s.cout, s.h, s.w, true)
				vals := runGraph(t, g, out, gx)
				return append(vals[0], vals[1]...)
			}
			small := 16 * (s.cin + s.cout) * s.w // two tile rows of w/2 tiles
			blocks := func(b int) [2]int {
				winoBudget = b
				return [2]int{blockRows(s.cin, s.cout, s.w/2, s.h/2), groupSize(s.cin, s.cout, s.w*s.h/4, s.n)}
			}
			if bs, bb := blocks(small), blocks(budget); bs == bb {
				t.Fatalf("%v: budgets %d and %d make the same blocks %v", s, small, budget, bs)
			}
			sameBits(t, run(small), run(budget), fmt.Sprintf("%s %v, budget %d", p, s, small), fmt.Sprintf("budget %d", budget))
		}
	}
}
