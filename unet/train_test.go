package unet

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
)

// TestTrainingGraph runs a few Adam steps of eps-prediction MSE on the tiny
// U-Net: gradients do not accumulate across runs, the loss falls, and the
// inference path sees the updated weights.
func TestTrainingGraph(t *testing.T) {
	m, err := New(tinyConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	randT := func(s ...int) *tensor.Dense {
		d := make([]float32, tensor.Shape(s).TotalSize())
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
		return tensor.New(tensor.WithShape(s...), tensor.WithBacking(d))
	}
	xv, yv := randT(4, 1, 4, 4), randT(4, 1, 4, 4)
	tv := []float64{1, 200, 500, 999}
	labels := []int64{0, 1, 2, 0}
	g := nn.NewGraph(m.Params)
	var x, tp, oh, y, out *G.Node
	if err := nn.Build(func() error {
		x, tp, oh, y = g.Input("x", 4, 1, 4, 4), g.Input("t", 4, 4), g.Input("oh", 4, 3), g.Input("y", 4, 1, 4, 4)
		out = m.Graph(g, x, tp, oh, nil)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	loss := nn.MSE(out, y)
	names, grads, err := g.Grad(loss)
	if err != nil {
		t.Fatal(err)
	}
	ohv, _ := m.OneHot(labels)
	for _, b := range []struct {
		n *G.Node
		v *tensor.Dense
	}{{x, xv}, {tp, m.TimeProj(tv)}, {oh, ohv}, {y, yv}} {
		if err := nn.Let(b.n, b.v); err != nil {
			t.Fatal(err)
		}
	}
	mc, err := g.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Run(); err != nil {
		t.Fatal(err)
	}
	first := nn.Value(grads[0]).Clone().(*tensor.Dense)
	if err := mc.Run(); err != nil {
		t.Fatal(err)
	}
	for i, v := range nn.Value(grads[0]).Data().([]float32) {
		if v != first.Data().([]float32)[i] {
			t.Fatalf("gradient of %s changed between two runs on the same data: accumulation", names[0])
		}
	}
	before, err := m.Forward(xv, tv, Cond{Labels: labels}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l0 := nn.Scalar(loss)
	opt := nn.NewAdam(3e-3)
	var l float64
	for step := 0; step < 30; step++ {
		if err := mc.Run(); err != nil {
			t.Fatal(err)
		}
		l = nn.Scalar(loss)
		gs := make([]*tensor.Dense, len(grads))
		for i, gn := range grads {
			gs[i] = nn.Value(gn)
		}
		if err := opt.Update(m.Params, names, gs); err != nil {
			t.Fatal(err)
		}
	}
	if l > 0.8*l0 {
		t.Errorf("loss %.4f after 30 steps, started at %.4f", l, l0)
	}
	after, err := m.Forward(xv, tv, Cond{Labels: labels}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mse float64
	for i, v := range after.Data().([]float32) {
		d := float64(v - yv.Data().([]float32)[i])
		mse += d * d
	}
	mse /= float64(after.Shape().TotalSize())
	if mse > 0.8*l0 || before.Data().([]float32)[0] == after.Data().([]float32)[0] {
		t.Errorf("inference path does not see the trained weights (mse %.4f, initial loss %.4f)", mse, l0)
	}
}
