package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkConv times a 3×3 convolution's forward pass and its two
// gradients at batch 16, reporting MFLOP/s as MB/s.
func BenchmarkConv(b *testing.B) {
	for _, s := range [][4]int{{1, 32, 32, 1}, {32, 1, 32, 1}, {32, 32, 32, 1}, {64, 32, 32, 1}, {96, 32, 32, 1}, {64, 64, 16, 1}, {64, 64, 8, 1}, {32, 32, 32, 2}} {
		cin, cout, hw, stride := s[0], s[1], s[2], s[3]
		for _, part := range []string{"forward", "data", "filter"} {
			b.Run(fmt.Sprintf("%dto%d/%dx%d/s%d/%s", cin, cout, hw, hw, stride, part), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 1))
				p := NewParams()
				p.Declare("x", 1, Normal(1), 16, cin, hw, hw)
				p.Declare("w", 1, Normal(0.1), cout, cin, 3, 3)
				p.Declare("b", 1, Normal(0.1), cout)
				g := NewGraph(p)
				y := Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), Same(3, stride, 1))
				ys := y.Shape()
				gy := g.Input("gy", ys...)
				d := make([]float32, ys.TotalSize())
				for i := range d {
					d[i] = float32(rng.NormFloat64())
				}
				Let(gy, tensor.New(tensor.WithShape(ys...), tensor.WithBacking(d)))
				var out *G.Node
				switch part {
				case "forward":
					out = y
				case "data":
					out = convBackwardData(g.Param("w"), gy, g.Param("x").Shape(), Same(3, stride, 1))
				case "filter":
					out = convBackwardFilter(g.Param("x"), gy, g.Param("w").Shape(), Same(3, stride, 1))
				}
				_ = out
				m, err := g.Compile()
				if err != nil {
					b.Fatal(err)
				}
				flops := 2 * int64(ys.TotalSize()) * int64(cin*9)
				b.SetBytes(flops / 1e6 * 1e6 / 1e6)
				b.ResetTimer()
				for b.Loop() {
					m.Run()
				}
				b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkGroupNormSiLU times the fused GroupNorm+SiLU forward and backward
// on a (16,64,32,32) activation.
func BenchmarkGroupNormSiLU(b *testing.B) {
	p := NewParams()
	p.Declare("x", 1, Normal(1), 16, 64, 32, 32)
	DeclareGroupNorm(p, 1, "gn", 64)
	g := NewGraph(p)
	y := g.GroupNorm("gn", g.Param("x"), 8, 1e-5, true)
	r := g.Input("r", y.Shape()...)
	Let(r, tensor.New(tensor.WithShape(y.Shape()...), tensor.Of(tensor.Float32)))
	loss := Dot(y, r)
	if _, _, err := g.Grad(loss); err != nil {
		b.Fatal(err)
	}
	m, err := g.Compile()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(4 * y.Shape().TotalSize()))
	for b.Loop() {
		m.Run()
	}
}

// BenchmarkAttention times multi-head attention (16 sequences of 64 tokens,
// 2 heads of 32) forward and backward.
func BenchmarkAttention(b *testing.B) {
	p := NewParams()
	for _, n := range []string{"q", "k", "v"} {
		p.Declare(n, 1, Normal(1), 16*64, 64)
	}
	g := NewGraph(p)
	y := MultiHeadAttention(g.Param("q"), g.Param("k"), g.Param("v"), 16, 2, 0.17)
	r := g.Input("r", y.Shape()...)
	Let(r, tensor.New(tensor.WithShape(y.Shape()...), tensor.Of(tensor.Float32)))
	if _, _, err := g.Grad(Dot(y, r)); err != nil {
		b.Fatal(err)
	}
	m, err := g.Compile()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m.Run()
	}
}

// BenchmarkUpsample times nearest 2× upsampling forward and backward.
func BenchmarkUpsample(b *testing.B) {
	p := NewParams()
	p.Declare("x", 1, Normal(1), 16, 64, 16, 16)
	g := NewGraph(p)
	y := Upsample2x(g.Param("x"))
	r := g.Input("r", y.Shape()...)
	Let(r, tensor.New(tensor.WithShape(y.Shape()...), tensor.Of(tensor.Float32)))
	if _, _, err := g.Grad(Dot(y, r)); err != nil {
		b.Fatal(err)
	}
	m, err := g.Compile()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(4 * y.Shape().TotalSize()))
	for b.Loop() {
		m.Run()
	}
}
