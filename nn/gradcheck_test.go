package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func dot64(a, b []float32) float64 {
	var s float64
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return s
}

// gradCase is a function of some named float32 tensors to check.
type gradCase struct {
	name   string
	inputs map[string][]int // name → shape
	// scale of the random inputs (default 1); per input.
	scale map[string]float64
	f     func(g *Graph) *G.Node
}

// checkGradients compares the symbolic gradient of sum(f ⊙ r) with central
// finite differences: at up to probes random coordinates of every input, and
// along one random direction over all inputs at once.
func checkGradients(t *testing.T, c gradCase, seed uint64, probes int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	p := NewParams()
	for name, shape := range c.inputs {
		sc := 1.0
		if s, ok := c.scale[name]; ok {
			sc = s
		}
		p.Declare(name, seed, Normal(sc), shape...)
	}
	g := NewGraph(p)
	var out, loss *G.Node
	var rIn *G.Node
	if err := Build(func() error {
		out = c.f(g)
		rIn = g.Input("r", out.Shape()...)
		loss = Dot(out, rIn)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := make([]float32, out.Shape().TotalSize())
	for i := range r {
		r[i] = float32(rng.NormFloat64())
	}
	if err := Let(rIn, tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(r))); err != nil {
		t.Fatal(err)
	}
	names, grads, err := g.Grad(loss)
	if err != nil {
		t.Fatal(err)
	}
	m, err := g.Compile()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	analytic := map[string][]float32{}
	for i, n := range names {
		analytic[n] = append([]float32(nil), Value(grads[i]).Data().([]float32)...)
	}
	lossAt := func() float64 {
		if err := m.Run(); err != nil {
			t.Fatal(err)
		}
		return dot64(Value(out).Data().([]float32), r)
	}
	const eps = 1e-2
	fd := func(x []float32, i int, d float32) float64 {
		old := x[i]
		x[i] = old + d
		lp := lossAt()
		x[i] = old - d
		lm := lossAt()
		x[i] = old
		return (lp - lm) / (2 * float64(d))
	}
	for _, n := range names {
		x := p.Data(n)
		an := analytic[n]
		var norm float64
		for _, v := range an {
			norm = math.Max(norm, math.Abs(float64(v)))
		}
		for j := 0; j < probes; j++ {
			i := rng.IntN(len(x))
			num := fd(x, i, eps)
			if diff := math.Abs(num - float64(an[i])); diff > 2e-2*math.Abs(num)+3e-3*norm+1e-4 {
				t.Errorf("%s: d/d%s[%d]: analytic %.6g, finite difference %.6g", c.name, n, i, an[i], num)
			}
		}
	}
	// Directional derivative along a random unit direction of all inputs.
	dirs := map[string][]float32{}
	var pred, nrm float64
	for _, n := range names {
		d := make([]float32, len(p.Data(n)))
		for i := range d {
			d[i] = float32(rng.NormFloat64())
			nrm += float64(d[i]) * float64(d[i])
		}
		dirs[n] = d
	}
	nrm = math.Sqrt(nrm)
	move := func(s float64) {
		for _, n := range names {
			x := p.Data(n)
			for i, v := range dirs[n] {
				x[i] += float32(s * float64(v) / nrm)
			}
		}
	}
	for _, n := range names {
		pred += dot64(analytic[n], dirs[n]) / nrm
	}
	move(eps)
	lp := lossAt()
	move(-2 * eps)
	lm := lossAt()
	move(eps)
	num := (lp - lm) / (2 * eps)
	if diff := math.Abs(num - pred); diff > 2e-2*math.Abs(pred)+1e-3 {
		t.Errorf("%s: directional derivative: analytic %.6g, finite difference %.6g", c.name, pred, num)
	}
}

func TestOpGradients(t *testing.T) {
	cases := []gradCase{
		{name: "conv3x3", inputs: map[string][]int{"x": {2, 3, 5, 6}, "w": {4, 3, 3, 3}, "b": {4}},
			f: func(g *Graph) *G.Node { return Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), Same(3, 1, 1)) }},
		{name: "conv3x3-stride2", inputs: map[string][]int{"x": {2, 3, 6, 6}, "w": {4, 3, 3, 3}, "b": {4}},
			f: func(g *Graph) *G.Node { return Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), Same(3, 2, 1)) }},
		{name: "conv3x3-stride2-asympad", inputs: map[string][]int{"x": {1, 2, 6, 6}, "w": {3, 2, 3, 3}},
			f: func(g *Graph) *G.Node {
				return Conv2d(g.Param("x"), g.Param("w"), nil, ConvGeom{KH: 3, KW: 3, Stride: 2, PadB: 1, PadR: 1})
			}},
		{name: "conv1x1", inputs: map[string][]int{"x": {2, 3, 4, 4}, "w": {5, 3, 1, 1}, "b": {5}},
			f: func(g *Graph) *G.Node { return Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), Same(1, 1, 0)) }},
		{name: "groupnorm", inputs: map[string][]int{"x": {2, 6, 3, 3}, "gamma": {6}, "beta": {6}},
			f: func(g *Graph) *G.Node {
				return GroupNormOp(g.Param("x"), g.Param("gamma"), g.Param("beta"), 3, 1e-5, false)
			}},
		{name: "groupnorm-silu", inputs: map[string][]int{"x": {2, 6, 3, 3}, "gamma": {6}, "beta": {6}},
			f: func(g *Graph) *G.Node {
				return GroupNormOp(g.Param("x"), g.Param("gamma"), g.Param("beta"), 2, 1e-6, true)
			}},
		{name: "silu", inputs: map[string][]int{"x": {3, 7}},
			f: func(g *Graph) *G.Node { return SiLU(g.Param("x")) }},
		{name: "upsample", inputs: map[string][]int{"x": {2, 3, 3, 4}},
			f: func(g *Graph) *G.Node { return Upsample2x(g.Param("x")) }},
		{name: "addscaled", inputs: map[string][]int{"a": {2, 3, 2, 2}, "b": {2, 3, 2, 2}},
			f: func(g *Graph) *G.Node { return AddScaled(g.Param("a"), g.Param("b"), 0.7) }},
		{name: "addchannel", inputs: map[string][]int{"x": {2, 3, 2, 2}, "e": {2, 3}},
			f: func(g *Graph) *G.Node { return AddChannel(g.Param("x"), g.Param("e")) }},
		{name: "concat", inputs: map[string][]int{"a": {2, 3, 2, 2}, "b": {2, 2, 2, 2}},
			f: func(g *Graph) *G.Node { return ConcatChannels(g.Param("a"), g.Param("b")) }},
		{name: "matmul", inputs: map[string][]int{"a": {3, 4}, "b": {5, 4}},
			f: func(g *Graph) *G.Node { return MatMul(g.Param("a"), g.Param("b"), false, true) }},
		{name: "matmul-ta", inputs: map[string][]int{"a": {4, 3}, "b": {4, 5}},
			f: func(g *Graph) *G.Node { return MatMul(g.Param("a"), g.Param("b"), true, false) }},
		{name: "linear", inputs: map[string][]int{"x": {3, 4}, "w": {5, 4}, "b": {5}},
			f: func(g *Graph) *G.Node { return Linear(g.Param("x"), g.Param("w"), g.Param("b")) }},
		{name: "tokens", inputs: map[string][]int{"x": {2, 3, 2, 3}},
			f: func(g *Graph) *G.Node { return FromTokens(Scale(ToTokens(g.Param("x")), 2), g.Param("x").Shape()) }},
		{name: "attention", inputs: map[string][]int{"q": {2 * 5, 2 * 3}, "k": {2 * 5, 2 * 3}, "v": {2 * 5, 2 * 3}},
			f: func(g *Graph) *G.Node { return MultiHeadAttention(g.Param("q"), g.Param("k"), g.Param("v"), 2, 2, 0.6) }},
		{name: "mse", inputs: map[string][]int{"p": {2, 3, 2, 2}},
			f: func(g *Graph) *G.Node { return mseAsTensor(g) }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGradients(t, c, uint64(i+1), 12) })
	}
}

// mseAsTensor wraps the scalar MSE so the harness can weight it.
func mseAsTensor(g *Graph) *G.Node {
	y := g.Input("y", 2, 3, 2, 2)
	yv := make([]float32, 24)
	for i := range yv {
		yv[i] = float32(i%5) - 2
	}
	if err := Let(y, tensor.New(tensor.WithShape(2, 3, 2, 2), tensor.WithBacking(yv))); err != nil {
		panic(err)
	}
	l := MSE(g.Param("p"), y)
	return apply(kernel{
		name: "ScalarToVec", in: []int{0}, out: 1,
		shape: func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{1}, nil },
		do:    func(out []float32, in [][]float32, _ []tensor.Shape) error { out[0] = in[0][0]; return nil },
		diff: func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			return G.Nodes{apply(kernel{name: "VecToScalar", in: []int{1}, out: 0,
				shape: func([]tensor.Shape) (tensor.Shape, error) { return tensor.ScalarShape(), nil },
				do:    func(out []float32, in [][]float32, _ []tensor.Shape) error { out[0] = in[0][0]; return nil },
			}, grad)}, nil
		},
	}, l)
}
