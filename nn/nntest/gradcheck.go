package nntest

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
)

// Options tune a gradient check.
type Options struct {
	Seed   uint64  // random stream for probes, directions and the loss weights
	Probes int     // coordinates probed per parameter (default 8)
	Eps    float64 // finite-difference step (default 1e-2)
	// RelTol and AbsTol bound |analytic − numeric| by
	// RelTol·|numeric| + AbsTol·max|gradient of that parameter| (defaults 2e-2, 3e-3).
	RelTol, AbsTol float64
}

// CheckGraph checks the symbolic gradient of a graph's output with respect to
// every parameter the graph uses. The graph's inputs must already be bound.
// For a tensor output the loss is sum(out ⊙ r) with a random r, so that every
// output element gets a different weight; a scalar output is the loss
// itself. It checks up to Probes random coordinates of every parameter and
// the directional derivative along one random direction over all parameters
// at once, and reports failures through t.
func CheckGraph(t testing.TB, g *nn.Graph, out *G.Node, o Options) {
	t.Helper()
	if o.Probes == 0 {
		o.Probes = 8
	}
	if o.Eps == 0 {
		o.Eps = 1e-2
	}
	if o.RelTol == 0 {
		o.RelTol = 2e-2
	}
	if o.AbsTol == 0 {
		o.AbsTol = 3e-3
	}
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	loss := out
	var r []float32
	if !out.IsScalar() {
		var rIn *G.Node
		if err := nn.Build(func() error {
			rIn = g.Input("gradcheck.r", out.Shape()...)
			loss = nn.Dot(out, rIn)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		r = make([]float32, out.Shape().TotalSize())
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		if err := nn.Let(rIn, tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(r))); err != nil {
			t.Fatal(err)
		}
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
	lossAt := func() float64 {
		if err := m.Run(); err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return nn.Scalar(out)
		}
		var s float64
		for i, v := range nn.Value(out).Data().([]float32) {
			s += float64(v) * float64(r[i])
		}
		return s
	}
	lossAt()
	// Rounding noise of a float32 forward pass: each output carries a
	// relative error of a few units in the last place, so the loss is only
	// known to about 2⁻²⁰·Σ|out·r| and a finite difference to that over eps.
	var labs float64
	if r == nil {
		labs = math.Abs(nn.Scalar(out))
	} else {
		for i, v := range nn.Value(out).Data().([]float32) {
			labs += math.Abs(float64(v) * float64(r[i]))
		}
	}
	floor := math.Ldexp(labs, -20) / o.Eps
	t.Logf("finite-difference noise floor %.3g", floor)
	p := g.Store()
	analytic := map[string][]float32{}
	for i, n := range names {
		analytic[n] = append([]float32(nil), nn.Value(grads[i]).Data().([]float32)...)
	}
	for _, n := range names {
		x := p.Data(n)
		an := analytic[n]
		var scale float64
		for _, v := range an {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for j := 0; j < min(o.Probes, len(x)); j++ {
			i := rng.IntN(len(x))
			old := x[i]
			x[i] = old + float32(o.Eps)
			lp := lossAt()
			x[i] = old - float32(o.Eps)
			lm := lossAt()
			x[i] = old
			num := (lp - lm) / (2 * o.Eps)
			if d := math.Abs(num - float64(an[i])); d > o.RelTol*math.Abs(num)+o.AbsTol*scale+floor {
				t.Errorf("d loss/d %s[%d]: analytic %.6g, finite difference %.6g", n, i, an[i], num)
			}
		}
	}
	// Directional derivative along a random unit direction.
	dirs := map[string][]float32{}
	var pred, norm float64
	for _, n := range names {
		d := make([]float32, len(p.Data(n)))
		for i := range d {
			d[i] = float32(rng.NormFloat64())
			norm += float64(d[i]) * float64(d[i])
		}
		dirs[n] = d
	}
	norm = math.Sqrt(norm)
	move := func(s float64) {
		for _, n := range names {
			x := p.Data(n)
			for i, v := range dirs[n] {
				x[i] += float32(s * float64(v) / norm)
			}
		}
	}
	for _, n := range names {
		var s float64
		for i, v := range analytic[n] {
			s += float64(v) * float64(dirs[n][i])
		}
		pred += s / norm
	}
	move(o.Eps)
	lp := lossAt()
	move(-2 * o.Eps)
	lm := lossAt()
	move(o.Eps)
	num := (lp - lm) / (2 * o.Eps)
	if d := math.Abs(num - pred); d > o.RelTol*math.Abs(pred)+floor {
		t.Errorf("directional derivative: analytic %.6g, finite difference %.6g", pred, num)
	}
}

// Case is a function of named random tensors to check.
type Case struct {
	Name   string
	Inputs map[string][]int // name → shape; filled from N(0,1)
	F      func(g *nn.Graph) *G.Node
}

// Check fills the case's inputs with seeded N(0,1) values and checks the
// gradient of its output with respect to all of them.
func Check(t *testing.T, c Case, o Options) {
	t.Helper()
	p := nn.NewParams()
	for name, shape := range c.Inputs {
		p.Declare(name, o.Seed, nn.Normal(1), shape...)
	}
	g := nn.NewGraph(p)
	var out *G.Node
	if err := nn.Build(func() error { out = c.F(g); return nil }); err != nil {
		t.Fatal(err)
	}
	CheckGraph(t, g, out, o)
}
