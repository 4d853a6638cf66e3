package nn

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// TestResBlockInferMatchesChain checks the fused inference ResBlock
// against the chain of NormConvs it replaces (fuseOff), bit for bit, on
// every GEMM path and on one to three cores: a block whose residual is
// its input and one with a 1×1 shortcut over two parts at 32×32 (a sample
// a group), a shortcut block at 16×16, a block at 8×8 (several samples a group, the last group
// short), and batches smaller than the cores (the chain itself). The
// fused graph must hold the fused op where blockFuses says so, and only
// there (not where the residual is a concatenation of two parts). The
// shortcut's planes are copied 64 bytes apart at 32×32 and side by side
// at 16×16, as conv1 reads them.
// A one-part block with a shortcut and a block whose two convolutions
// would take different numbers of samples a pass (the fused op takes the
// smaller, winoPlan.setGroup) are among the cases.
func TestResBlockInferMatchesChain(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cases := []struct {
		parts []int // channels of each part
		out   int
		h, w  int
		fuses bool
		ns    []int
	}{
		{[]int{32}, 32, 32, 32, true, []int{1, 2, 5}},
		{[]int{64, 32}, 32, 32, 32, true, []int{1, 3}},
		{[]int{64}, 64, 8, 8, true, []int{1, 11}},
		{[]int{32}, 64, 16, 16, true, []int{2, 3}},
		{[]int{16, 16}, 32, 16, 16, false, []int{2}},
		// One part with a shortcut, and two whose convolutions' passes
		// take different numbers of samples (1 and 4 at the budget
		// below: the smaller one for both).
		{[]int{48}, 16, 16, 32, true, []int{3}},
		{[]int{48, 16}, 16, 16, 32, true, []int{5}},
	}
	defer func(b int) { winoBudget = b }(winoBudget)
	winoBudget = 256 << 10
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, procs := range []int{1, 2, 3} {
			runtime.GOMAXPROCS(procs)
			for _, c := range cases {
				in := 0
				for _, k := range c.parts {
					in += k
				}
				r := ResBlock{In: in, Out: c.out, Temb: 10, Groups: 8, Eps: 1e-5, OutScale: 1.5}
				for _, n := range c.ns {
					name := fmt.Sprintf("%s/%d cores/%v-%d-%dx%d/n=%d", p, procs, c.parts, c.out, c.h, c.w, n)
					run := func(off bool) []float32 {
						fuseOff = off
						defer func() { fuseOff = false }()
						params := NewParams()
						r.Declare(params, 3, "blk")
						for i, k := range c.parts {
							params.Declare(fmt.Sprintf("x%d", i), uint64(10+i), Normal(1), n, k, c.h, c.w)
						}
						params.Declare("temb", 20, Normal(1), n, 10)
						for _, nm := range []string{"blk.norm1.weight", "blk.norm1.bias", "blk.norm2.weight", "blk.norm2.bias"} {
							v := params.Get(nm).Data().([]float32)
							for i := range v {
								v[i] += float32(i%5)/7 - 0.2
							}
						}
						g := NewGraph(params).ForInference()
						var parts []*G.Node
						for i := range c.parts {
							parts = append(parts, g.Param(fmt.Sprintf("x%d", i)))
						}
						out := r.ApplyParts(g, "blk", parts, SiLU(g.Param("temb")))
						if fused := strings.HasPrefix(out.Op().String(), "ResBlockInfer"); fused != (c.fuses && !off) {
							t.Fatalf("%s: fused op %t (%s), want %t", name, fused, out.Op(), c.fuses && !off)
						}
						return runGraph(t, g, out)[0]
					}
					sameBits(t, run(false), run(true), name+" fused", "chain")
				}
			}
		}
	}
}

// TestResBlockInferErrors checks that ResBlockInfer refuses inputs that do
// not fit its parameters, naming them, and has no gradient.
func TestResBlockInferErrors(t *testing.T) {
	build := func(xc, w1c, wscC int, short, two bool) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		params := NewParams()
		xs := []int{xc}
		if two {
			xs = []int{xc / 2, xc / 2}
		}
		for i, c := range xs {
			params.Declare(fmt.Sprintf("x%d", i), uint64(1+i), Normal(1), 2, c, 32, 32)
		}
		params.Declare("g", 2, Normal(1), 32)
		params.Declare("gx", 2, Normal(1), xc)
		params.Declare("w1", 3, Normal(0.1), 32, w1c, 3, 3)
		params.Declare("w2", 4, Normal(0.1), 32, 32, 3, 3)
		params.Declare("b", 5, Normal(0.1), 32)
		params.Declare("e", 6, Normal(0.1), 2, 32)
		params.Declare("wsc", 7, Normal(0.1), 32, wscC, 1, 1)
		g := NewGraph(params).ForInference()
		var wsc, bsc *G.Node
		if short {
			wsc, bsc = g.Param("wsc"), g.Param("b")
		}
		norm := NormSpec{Groups: 8, Eps: 1e-5, SiLU: true}
		var parts []*G.Node
		for i := range xs {
			parts = append(parts, g.Param(fmt.Sprintf("x%d", i)))
		}
		y := ResBlockInfer(parts, g.Param("gx"), g.Param("gx"), norm, g.Param("w1"), g.Param("b"), g.Param("e"),
			g.Param("g"), g.Param("g"), g.Param("w2"), g.Param("b"), wsc, bsc, 1)
		if _, _, err := g.Grad(Dot(y, y)); err == nil {
			t.Fatal("no error differentiating ResBlockInfer")
		}
		return nil
	}
	if err := build(32, 32, 32, false, false); err != nil {
		t.Fatalf("a good block: %v", err)
	}
	for _, c := range []struct {
		xc, w1c, wscC int
		short, two    bool
		want          string
	}{
		{32, 16, 32, false, false, "conv1 filters"},
		{64, 64, 32, true, false, "shortcut filters"},
		{64, 64, 64, false, false, "no shortcut"},
		{32, 32, 32, false, true, "no shortcut"}, // a residual of two parts
	} {
		err := build(c.xc, c.w1c, c.wscC, c.short, c.two)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("x %d channels (two parts %t), conv1 %d, shortcut %d (%t): error %v, want one naming %q", c.xc, c.two, c.w1c, c.wscC, c.short, err, c.want)
		}
	}
}
