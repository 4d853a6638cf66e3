package nn_test

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/nn/nntest"
)

// TestOpGradients checks every op of package nn against central finite
// differences.
func TestOpGradients(t *testing.T) {
	cases := []nntest.Case{
		{Name: "conv3x3", Inputs: map[string][]int{"x": {2, 3, 5, 6}, "w": {4, 3, 3, 3}, "b": {4}},
			F: func(g *nn.Graph) *G.Node {
				return nn.Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), nn.Same(3, 1, 1))
			}},
		{Name: "conv3x3-stride2", Inputs: map[string][]int{"x": {2, 3, 6, 6}, "w": {4, 3, 3, 3}, "b": {4}},
			F: func(g *nn.Graph) *G.Node {
				return nn.Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), nn.Same(3, 2, 1))
			}},
		{Name: "conv3x3-stride2-asympad", Inputs: map[string][]int{"x": {1, 2, 6, 6}, "w": {3, 2, 3, 3}},
			F: func(g *nn.Graph) *G.Node {
				return nn.Conv2d(g.Param("x"), g.Param("w"), nil, nn.ConvGeom{KH: 3, KW: 3, Stride: 2, PadB: 1, PadR: 1})
			}},
		{Name: "conv1x1", Inputs: map[string][]int{"x": {2, 3, 4, 4}, "w": {5, 3, 1, 1}, "b": {5}},
			F: func(g *nn.Graph) *G.Node {
				return nn.Conv2d(g.Param("x"), g.Param("w"), g.Param("b"), nn.Same(1, 1, 0))
			}},
		{Name: "convadd", Inputs: map[string][]int{"x": {2, 3, 4, 4}, "w": {4, 3, 3, 3}, "b": {4}, "e": {2, 4}, "skip": {2, 4, 4, 4}},
			F: func(g *nn.Graph) *G.Node {
				return nn.ConvAdd(g.Param("x"), g.Param("w"), g.Param("b"), nn.Same(3, 1, 1), g.Param("e"), g.Param("skip"), 0.7)
			}},
		{Name: "groupnorm", Inputs: map[string][]int{"x": {2, 6, 3, 3}, "gamma": {6}, "beta": {6}},
			F: func(g *nn.Graph) *G.Node {
				return nn.GroupNormOp(g.Param("x"), g.Param("gamma"), g.Param("beta"), 3, 1e-5, false)
			}},
		{Name: "groupnorm-silu", Inputs: map[string][]int{"x": {2, 6, 3, 3}, "gamma": {6}, "beta": {6}},
			F: func(g *nn.Graph) *G.Node {
				return nn.GroupNormOp(g.Param("x"), g.Param("gamma"), g.Param("beta"), 2, 1e-6, true)
			}},
		{Name: "silu", Inputs: map[string][]int{"x": {3, 7}},
			F: func(g *nn.Graph) *G.Node { return nn.SiLU(g.Param("x")) }},
		{Name: "upsample", Inputs: map[string][]int{"x": {2, 3, 3, 4}},
			F: func(g *nn.Graph) *G.Node { return nn.Upsample2x(g.Param("x")) }},
		{Name: "addscaled", Inputs: map[string][]int{"a": {2, 3, 2, 2}, "b": {2, 3, 2, 2}},
			F: func(g *nn.Graph) *G.Node { return nn.AddScaled(g.Param("a"), g.Param("b"), 0.7) }},
		{Name: "addchannel", Inputs: map[string][]int{"x": {2, 3, 2, 2}, "e": {2, 3}},
			F: func(g *nn.Graph) *G.Node { return nn.AddChannel(g.Param("x"), g.Param("e")) }},
		{Name: "concat", Inputs: map[string][]int{"a": {2, 3, 2, 2}, "b": {2, 2, 2, 2}},
			F: func(g *nn.Graph) *G.Node { return nn.ConcatChannels(g.Param("a"), g.Param("b")) }},
		{Name: "matmul", Inputs: map[string][]int{"a": {3, 4}, "b": {5, 4}},
			F: func(g *nn.Graph) *G.Node { return nn.MatMul(g.Param("a"), g.Param("b"), false, true) }},
		{Name: "matmul-ta", Inputs: map[string][]int{"a": {4, 3}, "b": {4, 5}},
			F: func(g *nn.Graph) *G.Node { return nn.MatMul(g.Param("a"), g.Param("b"), true, false) }},
		{Name: "linear", Inputs: map[string][]int{"x": {3, 4}, "w": {5, 4}, "b": {5}},
			F: func(g *nn.Graph) *G.Node { return nn.Linear(g.Param("x"), g.Param("w"), g.Param("b")) }},
		{Name: "tokens", Inputs: map[string][]int{"x": {2, 3, 2, 3}},
			F: func(g *nn.Graph) *G.Node {
				return nn.FromTokens(nn.Scale(nn.ToTokens(g.Param("x")), 2), g.Param("x").Shape())
			}},
		{Name: "attention", Inputs: map[string][]int{"q": {2 * 5, 2 * 3}, "k": {2 * 5, 2 * 3}, "v": {2 * 5, 2 * 3}},
			F: func(g *nn.Graph) *G.Node {
				return nn.MultiHeadAttention(g.Param("q"), g.Param("k"), g.Param("v"), 2, 2, 0.6)
			}},
		{Name: "mse", Inputs: map[string][]int{"p": {2, 3, 2, 2}},
			F: func(g *nn.Graph) *G.Node {
				y := g.Input("y", 2, 3, 2, 2)
				yv := make([]float32, 24)
				for i := range yv {
					yv[i] = float32(i%5) - 2
				}
				if err := nn.Let(y, tensor.New(tensor.WithShape(2, 3, 2, 2), tensor.WithBacking(yv))); err != nil {
					panic(err)
				}
				return nn.MSE(g.Param("p"), y)
			}},
		{Name: "weighted-mse", Inputs: map[string][]int{"p": {3, 2, 2}},
			F: func(g *nn.Graph) *G.Node {
				y, w := g.Input("y", 3, 2, 2), g.Input("w", 3)
				if err := nn.Let(y, tensor.New(tensor.WithShape(3, 2, 2), tensor.WithBacking([]float32{1, -1, 2, 0, 1, 1, -2, 0, 3, 1, 0, -1}))); err != nil {
					panic(err)
				}
				if err := nn.Let(w, tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{0.5, 2, 1}))); err != nil {
					panic(err)
				}
				return nn.WeightedMSE(g.Param("p"), y, w)
			}},
		{Name: "cross-entropy", Inputs: map[string][]int{"z": {3, 4}},
			F: func(g *nn.Graph) *G.Node {
				y := g.Input("y", 3, 4)
				if err := nn.Let(y, tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(nn.OneHot([]int64{2, 0, 3}, 4)))); err != nil {
					panic(err)
				}
				return nn.SoftmaxCrossEntropy(g.Param("z"), y)
			}},
		{Name: "meanhw", Inputs: map[string][]int{"x": {2, 3, 2, 3}},
			F: func(g *nn.Graph) *G.Node { return nn.MeanHW(g.Param("x")) }},
		{Name: "avgpool", Inputs: map[string][]int{"x": {2, 3, 4, 6}},
			F: func(g *nn.Graph) *G.Node { return nn.AvgPool2x(g.Param("x")) }},
		{Name: "depth-to-space", Inputs: map[string][]int{"x": {2, 8, 2, 3}},
			F: func(g *nn.Graph) *G.Node { return nn.DepthToSpace(g.Param("x"), 2) }},
		{Name: "add-depth-to-space", Inputs: map[string][]int{"b": {2, 2, 4, 8}, "x": {2, 32, 1, 2}},
			F: func(g *nn.Graph) *G.Node { return nn.AddDepthToSpace(g.Param("b"), g.Param("x"), 4) }},
		{Name: "space-to-depth", Inputs: map[string][]int{"x": {2, 2, 6, 3}},
			F: func(g *nn.Graph) *G.Node { return nn.SpaceToDepth(g.Param("x"), 3) }},
		{Name: "scalechannel", Inputs: map[string][]int{"x": {2, 3, 2, 3}, "s": {2, 3}},
			F: func(g *nn.Graph) *G.Node { return nn.ScaleChannel(g.Param("x"), g.Param("s")) }},
		{Name: "affine", Inputs: map[string][]int{"x": {2, 3}},
			F: func(g *nn.Graph) *G.Node { return nn.Affine(g.Param("x"), 2, -1) }},
	}
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) { nntest.Check(t, c, nntest.Options{Seed: uint64(i + 1), Probes: 12}) })
	}
}
