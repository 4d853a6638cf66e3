package nn_test

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/nn/nntest"
)

// keyBias binds a (batch, lk) bias input that masks the last key of the
// first sequence (diffusers' −10000 for a dropped token).
func keyBias(g *nn.Graph, batch, lk int) *G.Node {
	b := g.Input("bias", batch, lk)
	d := make([]float32, batch*lk)
	d[lk-1] = -10000
	if err := nn.Let(b, tensor.New(tensor.WithShape(batch, lk), tensor.WithBacking(d))); err != nil {
		panic(err)
	}
	return b
}

// TestTransformerOpGradients checks the transformer ops against central
// finite differences.
func TestTransformerOpGradients(t *testing.T) {
	for i, c := range []nntest.Case{
		{Name: "layernorm", Inputs: map[string][]int{"x": {5, 6}, "gamma": {6}, "beta": {6}},
			F: func(g *nn.Graph) *G.Node { return nn.LayerNorm(g.Param("x"), g.Param("gamma"), g.Param("beta"), 1e-5) }},
		{Name: "gelu", Inputs: map[string][]int{"x": {4, 5}},
			F: func(g *nn.Graph) *G.Node { return nn.Activation(g.Param("x"), nn.ActGELU) }},
		{Name: "quick_gelu", Inputs: map[string][]int{"x": {4, 5}},
			F: func(g *nn.Graph) *G.Node { return nn.Activation(g.Param("x"), nn.ActQuickGELU) }},
		{Name: "geglu", Inputs: map[string][]int{"x": {4, 6}},
			F: func(g *nn.Graph) *G.Node { return nn.GEGLU(g.Param("x")) }},
		{Name: "cross-attention", Inputs: map[string][]int{"q": {2 * 3, 4}, "k": {2 * 5, 4}, "v": {2 * 5, 4}},
			F: func(g *nn.Graph) *G.Node {
				return nn.Attention(g.Param("q"), g.Param("k"), g.Param("v"), keyBias(g, 2, 5), 2, 2, 0.7, false)
			}},
		{Name: "causal-attention", Inputs: map[string][]int{"q": {2 * 4, 6}, "k": {2 * 4, 6}, "v": {2 * 4, 6}},
			F: func(g *nn.Graph) *G.Node {
				return nn.Attention(g.Param("q"), g.Param("k"), g.Param("v"), keyBias(g, 2, 4), 2, 3, 0.5, true)
			}},
	} {
		t.Run(c.Name, func(t *testing.T) { nntest.Check(t, c, nntest.Options{Seed: uint64(40 + i)}) })
	}
}

// TestAttentionValues: Attention against the formula written out, with a
// key masked by the bias and the causal mask.
func TestAttentionValues(t *testing.T) {
	const batch, heads, lq, lk, d = 2, 2, 3, 4, 2
	ld := heads * d
	val := func(n, seed int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(math.Sin(float64(i*7+seed)) * 1.3)
		}
		return out
	}
	q, k, v := val(batch*lq*ld, 1), val(batch*lk*ld, 2), val(batch*lk*ld, 3)
	bias := make([]float32, batch*lk)
	bias[1*lk+2] = -10000 // the second sequence's third key
	for _, causal := range []bool{false, true} {
		nq := lq
		if causal {
			nq = lk
			q = val(batch*lk*ld, 1)
		}
		shapes := [][]int{{batch * nq, ld}, {batch * lk, ld}, {batch * lk, ld}, {batch, lk}}
		f, err := nn.NewFunc(nn.FuncDef{Inputs: shapes, Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			return []*G.Node{nn.Attention(in[0], in[1], in[2], in[3], batch, heads, 0.6, causal)}, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		var ins []*tensor.Dense
		for i, data := range [][]float32{q, k, v, bias} {
			ins = append(ins, tensor.New(tensor.WithShape(shapes[i]...), tensor.WithBacking(data)))
		}
		outs, err := f.Call(ins...)
		if err != nil {
			t.Fatal(err)
		}
		got := outs[0].Data().([]float32)
		for b := 0; b < batch; b++ {
			for h := 0; h < heads; h++ {
				for i := 0; i < nq; i++ {
					var w [lk]float64
					var sum, mx float64 = 0, math.Inf(-1)
					for j := 0; j < lk; j++ {
						var s float64
						for c := 0; c < d; c++ {
							s += float64(q[(b*nq+i)*ld+h*d+c]) * float64(k[(b*lk+j)*ld+h*d+c])
						}
						w[j] = 0.6*s + float64(bias[b*lk+j])
						if causal && j > i {
							w[j] = math.Inf(-1)
						}
						mx = math.Max(mx, w[j])
					}
					for j := range w {
						w[j] = math.Exp(w[j] - mx)
						sum += w[j]
					}
					for c := 0; c < d; c++ {
						var o float64
						for j := 0; j < lk; j++ {
							o += w[j] / sum * float64(v[(b*lk+j)*ld+h*d+c])
						}
						if g := got[(b*nq+i)*ld+h*d+c]; math.Abs(float64(g)-o) > 1e-5 {
							t.Fatalf("causal %t: out[%d,%d,%d,%d] = %g, want %g", causal, b, h, i, c, g, o)
						}
					}
				}
			}
		}
	}
}
