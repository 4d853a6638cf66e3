package nn_test

import (
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/nn/nntest"
)

// letInput binds data of the given shape to a new input node of g.
func letInput(g *nn.Graph, name string, data []float32, shape ...int) *G.Node {
	n := g.Input(name, shape...)
	if err := nn.Let(n, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))); err != nil {
		panic(err)
	}
	return n
}

// pixelLabels returns n·h·w class ids in [0, k) that use every class.
func pixelLabels(n, h, w, k int) []float32 {
	l := make([]float32, n*h*w)
	for i := range l {
		l[i] = float32((i*7 + i/5) % k)
	}
	return l
}

// TestSegOpGradients checks the segmentation ops against central finite
// differences.
func TestSegOpGradients(t *testing.T) {
	cases := []nntest.Case{
		{Name: "relu", Inputs: map[string][]int{"x": {2, 3, 4, 5}},
			F: func(g *nn.Graph) *G.Node { return nn.ReLU(g.Param("x")) }},
		{Name: "sigmoid", Inputs: map[string][]int{"x": {2, 3, 4, 5}},
			F: func(g *nn.Graph) *G.Node { return nn.Sigmoid(nn.Scale(g.Param("x"), 3)) }},
		{Name: "mulchannels", Inputs: map[string][]int{"x": {2, 3, 3, 4}, "a": {2, 1, 3, 4}},
			F: func(g *nn.Graph) *G.Node { return nn.MulChannels(g.Param("x"), g.Param("a")) }},
		{Name: "maxpool", Inputs: map[string][]int{"x": {2, 3, 4, 6}},
			F: func(g *nn.Graph) *G.Node { return nn.MaxPool2x(g.Param("x")) }},
		{Name: "convtranspose", Inputs: map[string][]int{"x": {2, 3, 3, 4}, "w": {3, 5, 2, 2}, "b": {5}},
			F: func(g *nn.Graph) *G.Node { return nn.ConvTranspose2x(g.Param("x"), g.Param("w"), g.Param("b")) }},
		{Name: "convtranspose-nobias-n1", Inputs: map[string][]int{"x": {1, 4, 3, 2}, "w": {4, 2, 2, 2}},
			F: func(g *nn.Graph) *G.Node { return nn.ConvTranspose2x(g.Param("x"), g.Param("w"), nil) }},
		{Name: "centercrop", Inputs: map[string][]int{"x": {2, 3, 7, 6}},
			F: func(g *nn.Graph) *G.Node { return nn.CenterCrop(g.Param("x"), 4, 3) }},
		{Name: "batchnorm-train", Inputs: map[string][]int{"x": {3, 4, 3, 3}, "gamma": {4}, "beta": {4}},
			F: func(g *nn.Graph) *G.Node {
				// Every run of the check updates the running statistics;
				// the training-mode output does not depend on them.
				st := &nn.BatchNormState{RunningMean: make([]float32, 4), RunningVar: []float32{1, 1, 1, 1},
					Momentum: 0.1, Eps: 1e-5, Train: true}
				return nn.BatchNorm2d(g.Param("x"), g.Param("gamma"), g.Param("beta"), st)
			}},
		{Name: "batchnorm-eval", Inputs: map[string][]int{"x": {2, 4, 3, 3}, "gamma": {4}, "beta": {4}},
			F: func(g *nn.Graph) *G.Node {
				st := &nn.BatchNormState{RunningMean: []float32{0.3, -0.2, 1, 0}, RunningVar: []float32{0.5, 1.5, 2, 0.8},
					Momentum: 0.1, Eps: 1e-5}
				return nn.BatchNorm2d(g.Param("x"), g.Param("gamma"), g.Param("beta"), st)
			}},
		{Name: "weighted-ce", Inputs: map[string][]int{"z": {2, 4, 3, 5}},
			F: func(g *nn.Graph) *G.Node {
				w := make([]float32, 2*3*5)
				for i := range w {
					w[i] = 0.25 + float32(i%4)
				}
				return nn.WeightedSoftmaxCE2d(g.Param("z"),
					letInput(g, "labels", pixelLabels(2, 3, 5, 4), 2, 3, 5), letInput(g, "weights", w, 2, 3, 5))
			}},
		{Name: "soft-dice", Inputs: map[string][]int{"z": {2, 3, 4, 5}},
			F: func(g *nn.Graph) *G.Node {
				return nn.SoftDiceLoss(g.Param("z"), letInput(g, "labels", pixelLabels(2, 4, 5, 3), 2, 4, 5), 1)
			}},
		{Name: "attention-gate", Inputs: map[string][]int{"x": {2, 3, 4, 4}, "g": {2, 1, 4, 4}},
			F: func(g *nn.Graph) *G.Node {
				return nn.MaxPool2x(nn.MulChannels(nn.ReLU(g.Param("x")), nn.Sigmoid(g.Param("g"))))
			}},
	}
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) { nntest.Check(t, c, nntest.Options{Seed: uint64(i + 101), Probes: 12}) })
	}
}

var segFixtures = sync.OnceValues(func() (map[string]npzio.Array, error) {
	return npzio.Read(filepath.Join("testdata", "segops.npz"))
})

// fixture returns the arrays of testdata/segops.npz, written by
// scripts/reference/make_seg_fixtures.py from PyTorch in float64.
func fixture(t *testing.T) map[string]npzio.Array {
	t.Helper()
	f, err := segFixtures()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// seg is one fixture op: its float32 inputs, run through a graph.
type seg struct {
	t  *testing.T
	f  map[string]npzio.Array
	op string
}

// arr returns the fixture array "<op>.<key>".
func (s seg) arr(key string) npzio.Array {
	a, ok := s.f[s.op+"."+key]
	if !ok {
		s.t.Fatalf("fixture has no %s.%s", s.op, key)
	}
	return a
}

// run builds a graph whose trainable parameters are the named fixture
// arrays (copies), applies build, differentiates sum(out ⊙ r) (r from the
// fixture) or the scalar output itself, runs it once, and returns the
// output and the gradients by parameter name.
func (s seg) run(params []string, build func(g *nn.Graph) *G.Node) ([]float32, map[string][]float32) {
	t := s.t
	t.Helper()
	p := nn.NewParams()
	for _, n := range params {
		a := s.arr(n)
		copy(p.Declare(n, 1, nn.Const(0), a.Shape...).Float32s(), a.Floats())
	}
	g := nn.NewGraph(p)
	var out, loss *G.Node
	if err := nn.Build(func() error {
		out = build(g)
		loss = out
		if !out.IsScalar() {
			r := s.arr("r")
			loss = nn.Dot(out, letInput(g, "r", append([]float32(nil), r.Floats()...), r.Shape...))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	vals, gs := runOnce(t, g, loss, out)
	return vals[0], gs
}

// runOnce differentiates loss on g, runs the graph once and returns
// copies of the values of read (each node's data; a scalar as one value)
// and of the gradients by parameter name.
func runOnce(t *testing.T, g *nn.Graph, loss *G.Node, read ...*G.Node) ([][]float32, map[string][]float32) {
	t.Helper()
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
	vals := make([][]float32, len(read))
	for i, n := range read {
		if n.IsScalar() {
			vals[i] = []float32{float32(nn.Scalar(n))}
		} else {
			vals[i] = append([]float32(nil), nn.Value(n).Data().([]float32)...)
		}
	}
	gs := map[string][]float32{}
	for i, n := range names {
		gs[n] = append([]float32(nil), nn.Value(grads[i]).Data().([]float32)...)
	}
	return vals, gs
}

const segTol = 1e-4

// near checks got against the fixture array key: |got − want| ≤
// segTol·max(1, |want|) everywhere.
func (s seg) near(what string, got []float32, key string) {
	s.t.Helper()
	want := s.arr(key)
	w := want.F64
	if len(got) != len(w) {
		s.t.Errorf("%s.%s: %d values, want %d", s.op, what, len(got), len(w))
		return
	}
	var worst float64
	at := -1
	for i, v := range got {
		d := math.Abs(float64(v)-w[i]) / math.Max(1, math.Abs(w[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > segTol || math.IsNaN(worst) {
		s.t.Errorf("%s.%s: element %d is %g, PyTorch %g (relative difference %.3g)", s.op, what, at, got[at], w[at], worst)
	}
}

// TestSegOpsMatchPyTorch checks outputs and gradients against PyTorch.
func TestSegOpsMatchPyTorch(t *testing.T) {
	f := fixture(t)
	t.Run("relu", func(t *testing.T) {
		s := seg{t, f, "relu"}
		y, g := s.run([]string{"x"}, func(g *nn.Graph) *G.Node { return nn.ReLU(g.Param("x")) })
		s.near("y", y, "y")
		s.near("dx", g["x"], "dx")
	})
	t.Run("sigmoid", func(t *testing.T) {
		s := seg{t, f, "sigmoid"}
		y, g := s.run([]string{"x"}, func(g *nn.Graph) *G.Node { return nn.Sigmoid(g.Param("x")) })
		s.near("y", y, "y")
		s.near("dx", g["x"], "dx")
	})
	t.Run("maxpool", func(t *testing.T) {
		s := seg{t, f, "maxpool"}
		// The fixture's values are on a grid of ½, so that windows hold
		// ties, which PyTorch breaks by taking the first.
		x := s.arr("x").F64
		ties := 0
		for i := 0; i < len(x); i += 16 {
			for j := 0; j < 8; j += 2 {
				v := []float64{x[i+j], x[i+j+1], x[i+8+j], x[i+8+j+1]}
				m, c := math.Inf(-1), 0
				for _, e := range v {
					if e > m {
						m, c = e, 1
					} else if e == m {
						c++
					}
				}
				if c > 1 {
					ties++
				}
			}
		}
		if ties < 5 {
			t.Fatalf("fixture has only %d tied windows", ties)
		}
		y, g := s.run([]string{"x"}, func(g *nn.Graph) *G.Node { return nn.MaxPool2x(g.Param("x")) })
		s.near("y", y, "y")
		s.near("dx", g["x"], "dx")
	})
	t.Run("convtranspose", func(t *testing.T) {
		s := seg{t, f, "convt"}
		y, g := s.run([]string{"x", "w", "b"}, func(g *nn.Graph) *G.Node {
			return nn.ConvTranspose2x(g.Param("x"), g.Param("w"), g.Param("b"))
		})
		s.near("y", y, "y")
		s.near("dx", g["x"], "dx")
		s.near("dw", g["w"], "dw")
		s.near("db", g["b"], "db")
	})
	for _, mode := range []string{"bn_train", "bn_eval"} {
		t.Run(mode, func(t *testing.T) {
			s := seg{t, f, mode}
			st := &nn.BatchNormState{
				RunningMean: append([]float32(nil), s.arr("running_mean").Floats()...),
				RunningVar:  append([]float32(nil), s.arr("running_var").Floats()...),
				Momentum:    0.1, Eps: 1e-5, Train: mode == "bn_train",
			}
			before := append(append([]float32(nil), st.RunningMean...), st.RunningVar...)
			y, g := s.run([]string{"x", "gamma", "beta"}, func(g *nn.Graph) *G.Node {
				return nn.BatchNorm2d(g.Param("x"), g.Param("gamma"), g.Param("beta"), st)
			})
			s.near("y", y, "y")
			s.near("dx", g["x"], "dx")
			s.near("dgamma", g["gamma"], "dgamma")
			s.near("dbeta", g["beta"], "dbeta")
			if st.Train {
				s.near("running_mean", st.RunningMean, "new_running_mean")
				s.near("running_var", st.RunningVar, "new_running_var")
			} else {
				after := append(append([]float32(nil), st.RunningMean...), st.RunningVar...)
				for i := range after {
					if after[i] != before[i] {
						t.Fatalf("evaluation mode changed the running statistics: %v, was %v", after, before)
					}
				}
			}
		})
	}
	t.Run("weighted-ce", func(t *testing.T) {
		s := seg{t, f, "wce"}
		l, w := s.arr("labels"), s.arr("weights")
		y, g := s.run([]string{"z"}, func(g *nn.Graph) *G.Node {
			return nn.WeightedSoftmaxCE2d(g.Param("z"), letInput(g, "labels", l.Floats(), l.Shape...),
				letInput(g, "weights", w.Floats(), w.Shape...))
		})
		s.near("loss", y, "loss")
		s.near("dz", g["z"], "dz")
	})
	t.Run("soft-dice", func(t *testing.T) {
		s := seg{t, f, "dice"}
		l := s.arr("labels")
		y, g := s.run([]string{"z"}, func(g *nn.Graph) *G.Node {
			return nn.SoftDiceLoss(g.Param("z"), letInput(g, "labels", l.Floats(), l.Shape...), s.arr("eps").F64[0])
		})
		s.near("loss", y, "loss")
		s.near("dz", g["z"], "dz")
	})
}

// TestConvTranspose2xLarge checks ConvTranspose2x on a product large enough
// for the GEMM to run on several cores, against a direct float64
// computation of the output and of the gradients of sum(out ⊙ r).
func TestConvTranspose2xLarge(t *testing.T) {
	const n, ci, co, h, w = 3, 24, 12, 10, 6
	p := nn.NewParams()
	x := p.Declare("x", 5, nn.Normal(1), n, ci, h, w).Float32s()
	wt := p.Declare("w", 5, nn.Normal(0.2), ci, co, 2, 2).Float32s()
	b := p.Declare("b", 5, nn.Normal(1), co).Float32s()
	r := make([]float32, n*co*4*h*w)
	for i := range r {
		r[i] = float32(math.Sin(float64(i)))
	}
	g := nn.NewGraph(p)
	var out, loss *G.Node
	if err := nn.Build(func() error {
		out = nn.ConvTranspose2x(g.Param("x"), g.Param("w"), g.Param("b"))
		loss = nn.Dot(out, letInput(g, "r", r, n, co, 2*h, 2*w))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	vals, gv := runOnce(t, g, loss, out)
	y := vals[0]
	wantY := make([]float64, len(y))
	dx, dw, db := make([]float64, len(x)), make([]float64, len(wt)), make([]float64, co)
	for i := 0; i < n; i++ {
		for o := 0; o < co; o++ {
			for yy := 0; yy < 2*h; yy++ {
				for xx := 0; xx < 2*w; xx++ {
					at := ((i*co+o)*2*h+yy)*2*w + xx
					s := float64(b[o])
					rv := float64(r[at])
					db[o] += rv
					for c := 0; c < ci; c++ {
						xi := ((i*ci+c)*h+yy/2)*w + xx/2
						wi := ((c*co+o)*2+yy%2)*2 + xx%2
						s += float64(x[xi]) * float64(wt[wi])
						dx[xi] += rv * float64(wt[wi])
						dw[wi] += rv * float64(x[xi])
					}
					wantY[at] = s
				}
			}
		}
	}
	check := func(what string, got []float32, want []float64) {
		t.Helper()
		for i, v := range got {
			if d := math.Abs(float64(v) - want[i]); d > 1e-4*math.Max(1, math.Abs(want[i])) {
				t.Fatalf("%s[%d] = %g, want %g", what, i, v, want[i])
			}
		}
	}
	check("y", y, wantY)
	check("dx", gv["x"], dx)
	check("dw", gv["w"], dw)
	check("db", gv["b"], db)
}

func TestMaxPool2xOddSizeIsBuildError(t *testing.T) {
	for _, c := range []struct {
		shape []int
		want  string
	}{
		{[]int{1, 2, 5, 4}, "odd height 5"},
		{[]int{1, 2, 4, 7}, "odd width 7"},
	} {
		g := nn.NewGraph(nil)
		err := nn.Build(func() error {
			nn.MaxPool2x(g.Input("x", c.shape...))
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("MaxPool2x of %v: error %v, want one containing %q", c.shape, err, c.want)
		}
	}
}

func TestCenterCrop(t *testing.T) {
	// Offsets are (H−h)/2 and (W−w)/2 rounded down: (1, 1) for 6×7 → 3×4.
	x := make([]float32, 2*6*7)
	for i := range x {
		x[i] = float32(i)
	}
	g := nn.NewGraph(nil)
	var out *G.Node
	if err := nn.Build(func() error {
		out = nn.CenterCrop(letInput(g, "x", x, 1, 2, 6, 7), 3, 4)
		return nil
	}); err != nil {
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
	got := nn.Value(out).Data().([]float32)
	for c := 0; c < 2; c++ {
		for y := 0; y < 3; y++ {
			for xx := 0; xx < 4; xx++ {
				if v, want := got[(c*3+y)*4+xx], x[(c*6+y+1)*7+xx+1]; v != want {
					t.Fatalf("crop[%d,%d,%d] = %g, want %g", c, y, xx, v, want)
				}
			}
		}
	}
	err = nn.Build(func() error {
		nn.CenterCrop(g.Input("y", 1, 2, 6, 7), 7, 4)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "cannot crop 7×4") {
		t.Errorf("crop larger than the input: error %v", err)
	}
}

func TestSegLossLabelOutOfRange(t *testing.T) {
	for _, c := range []struct {
		name  string
		label float32
		want  []string
	}{
		{"ce-high", 5, []string{"label 5", "[0, 3)"}},
		{"ce-negative", -1, []string{"label -1", "[0, 3)"}},
		{"ce-fraction", 1.5, []string{"label 1.5", "[0, 3)"}},
		{"dice-high", 3, []string{"label 3", "[0, 3)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := nn.NewGraph(nil)
			labels := pixelLabels(2, 2, 3, 3)
			labels[7] = c.label
			z := make([]float32, 2*3*2*3)
			w := make([]float32, 2*2*3)
			for i := range w {
				w[i] = 1
			}
			if err := nn.Build(func() error {
				zn := letInput(g, "z", z, 2, 3, 2, 3)
				ln := letInput(g, "labels", labels, 2, 2, 3)
				if strings.HasPrefix(c.name, "dice") {
					nn.SoftDiceLoss(zn, ln, 1)
				} else {
					nn.WeightedSoftmaxCE2d(zn, ln, letInput(g, "w", w, 2, 2, 3))
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			m, err := g.Compile()
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			err = m.Run()
			if err == nil {
				t.Fatal("no error for a label out of range")
			}
			for _, s := range c.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestBatchNormTrainingNeedsTwoValues(t *testing.T) {
	g := nn.NewGraph(nil)
	st := &nn.BatchNormState{RunningMean: []float32{0, 0}, RunningVar: []float32{1, 1}, Momentum: 0.1, Eps: 1e-5, Train: true}
	if err := nn.Build(func() error {
		nn.BatchNorm2d(letInput(g, "x", []float32{1, 2}, 1, 2, 1, 1),
			letInput(g, "gamma", []float32{1, 1}, 2), letInput(g, "beta", []float32{0, 0}, 2), st)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m, err := g.Compile()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Run(); err == nil || !strings.Contains(err.Error(), "more than 1 value per channel") {
		t.Errorf("training on one value per channel: error %v", err)
	}
}

func TestDeclareConvTranspose2x(t *testing.T) {
	s := seg{t, fixture(t), "convt_init"}
	in, out := int(s.arr("in").F64[0]), int(s.arr("out").F64[0])
	bound := s.arr("bound").F64[0] // 1/√fan_in as torch computes fan_in
	p := nn.NewParams()
	nn.DeclareConvTranspose2x(p, 3, "up", in, out)
	if got := p.Get("up.weight").Shape(); !got.Eq(tensor.Shape{in, out, 2, 2}) {
		t.Fatalf("weight shape %v", got)
	}
	if got := p.Get("up.bias").Shape(); !got.Eq(tensor.Shape{out}) {
		t.Fatalf("bias shape %v", got)
	}
	maxAbs := func(v []float32) float64 {
		var m float64
		for _, x := range v {
			m = math.Max(m, math.Abs(float64(x)))
		}
		return m
	}
	w, b := maxAbs(p.Data("up.weight")), maxAbs(p.Data("up.bias"))
	// The weights fill U(±bound): their largest magnitude is close to the
	// bound, above the 1/√(4·in) a Conv2d-style fan-in would give.
	if w > bound || w < 0.95*bound || w <= 1/math.Sqrt(float64(4*in)) {
		t.Errorf("max |weight| %g for bound %g", w, bound)
	}
	if b > bound || b == 0 {
		t.Errorf("max |bias| %g for bound %g", b, bound)
	}
	// Seeded: the same seed gives the same weights.
	q := nn.NewParams()
	nn.DeclareConvTranspose2x(q, 3, "up", in, out)
	for i, v := range q.Data("up.weight") {
		if v != p.Data("up.weight")[i] {
			t.Fatal("same seed, different weights")
		}
	}
	g := nn.NewGraph(p)
	var y *G.Node
	if err := nn.Build(func() error {
		y = g.ConvTranspose2x("up", g.Input("x", 2, in, 3, 5))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !y.Shape().Eq(tensor.Shape{2, out, 6, 10}) {
		t.Errorf("output shape %v", y.Shape())
	}
}

// TestGraphBatchNorm checks the layer pair: the store holds PyTorch's
// names and initial values, only weight and bias are differentiated, a
// training run updates the store's running statistics in place (also in a
// frozen store), and evaluation normalises with them.
func TestGraphBatchNorm(t *testing.T) {
	const n, c, h, w = 2, 3, 2, 3
	p := nn.NewParams()
	nn.DeclareBatchNorm(p, nil, 1, "bn", c)
	want := map[string]float32{"bn.weight": 1, "bn.bias": 0, "bn.running_mean": 0, "bn.running_var": 1}
	if got := p.Names(); len(got) != 4 {
		t.Fatalf("names %v", got)
	}
	for name, v := range want {
		for _, x := range p.Data(name) {
			if x != v {
				t.Fatalf("%s holds %g, want %g", name, x, v)
			}
		}
	}
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(math.Sin(float64(3*i))) * float32(1+i%c)
	}
	// The batch statistics in float64.
	mean, uvar := make([]float64, c), make([]float64, c)
	m := float64(n * h * w)
	for ci := 0; ci < c; ci++ {
		var s, q float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ci)*h*w : (i*c+ci+1)*h*w] {
				s += float64(v)
			}
		}
		mean[ci] = s / m
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ci)*h*w : (i*c+ci+1)*h*w] {
				q += (float64(v) - mean[ci]) * (float64(v) - mean[ci])
			}
		}
		uvar[ci] = q / (m - 1)
	}
	run := func(train bool, frozen bool) []float32 {
		t.Helper()
		var g *nn.Graph
		if frozen {
			g = nn.NewGraph(nil).Freeze(p)
		} else {
			g = nn.NewGraph(p)
		}
		var out *G.Node
		if err := nn.Build(func() error {
			out = g.BatchNorm("bn", letInput(g, "x", x, n, c, h, w), train)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !frozen {
			names, _ := g.UsedParams()
			if len(names) != 2 || names[0] != "bn.weight" || names[1] != "bn.bias" {
				t.Errorf("graph parameters %v, want the weight and bias only", names)
			}
		}
		mc, err := g.Compile()
		if err != nil {
			t.Fatal(err)
		}
		defer mc.Close()
		if err := mc.Run(); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), nn.Value(out).Data().([]float32)...)
	}
	near := func(what string, got float32, want float64) {
		t.Helper()
		if math.Abs(float64(got)-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %g, want %g", what, got, want)
		}
	}
	run(true, false)
	rm, rv := p.Data("bn.running_mean"), p.Data("bn.running_var")
	for ci := 0; ci < c; ci++ {
		near("running_mean", rm[ci], 0.1*mean[ci])
		near("running_var", rv[ci], 0.9+0.1*uvar[ci])
	}
	run(true, true)
	for ci := 0; ci < c; ci++ {
		near("running_mean after two steps", rm[ci], 0.9*0.1*mean[ci]+0.1*mean[ci])
		near("running_var after two steps", rv[ci], 0.9*(0.9+0.1*uvar[ci])+0.1*uvar[ci])
	}
	y := run(false, false)
	for i, v := range x {
		ci := i / (h * w) % c
		near("eval output", y[i], (float64(v)-float64(rm[ci]))/math.Sqrt(float64(rv[ci])+1e-5))
	}
}

// segNetParams declares a two-level U-Net in miniature with an attention
// gate: valid 3×3 convolutions with batch norm and ReLU, a max pool, an
// up-convolution, crop-and-copy of the skip features gated by attention
// coefficients, and a 1×1 classifier over 3 classes.
func segNetParams() *nn.Params {
	p := nn.NewParams()
	nn.DeclareConv(p, 1, "enc", 2, 4, 3)
	nn.DeclareBatchNorm(p, nil, 1, "enc_bn", 4)
	nn.DeclareConv(p, 1, "mid", 4, 6, 3)
	nn.DeclareBatchNorm(p, nil, 1, "mid_bn", 6)
	nn.DeclareConvTranspose2x(p, 1, "up", 6, 4)
	nn.DeclareConv(p, 1, "gate.W_x", 4, 3, 1)
	nn.DeclareConv(p, 1, "gate.W_g", 4, 3, 1)
	nn.DeclareConv(p, 1, "gate.psi", 3, 1, 1)
	nn.DeclareConv(p, 1, "head", 8, 3, 1)
	return p
}

// segNet is the loss of segNetParams' network on x (N,2,12,12): pixel-
// weighted cross-entropy plus soft Dice over the central 6×6 pixels. With
// smooth set, SiLU and average pooling stand in for ReLU and max pooling,
// so that finite differences with a large step see no kinks.
func segNet(g *nn.Graph, x, labels, weights *G.Node, smooth bool) *G.Node {
	act, pool := nn.ReLU, nn.MaxPool2x
	if smooth {
		act, pool = nn.SiLU, nn.AvgPool2x
	}
	valid, one := nn.Same(3, 1, 0), nn.Same(1, 1, 0)
	s := act(g.BatchNorm("enc_bn", g.Conv("enc", x, valid), true)) // 10×10
	d := act(g.BatchNorm("mid_bn", g.Conv("mid", pool(s), valid), true))
	up := g.ConvTranspose2x("up", d) // 6×6
	skip := nn.CenterCrop(s, 6, 6)
	a := nn.Sigmoid(g.Conv("gate.psi", act(nn.Add(g.Conv("gate.W_x", skip, one), g.Conv("gate.W_g", up, one))), one))
	z := g.Conv("head", nn.ConcatChannels(nn.MulChannels(skip, a), up), one)
	return nn.Add(nn.WeightedSoftmaxCE2d(z, labels, weights), nn.SoftDiceLoss(z, labels, 1))
}

func segNetData() (x, labels, weights []float32) {
	x = make([]float32, 2*2*12*12)
	for i := range x {
		x[i] = float32(math.Sin(0.37*float64(i))) + float32(i%5)/5
	}
	labels = pixelLabels(2, 6, 6, 3)
	weights = make([]float32, 2*6*6)
	for i := range weights {
		weights[i] = 0.5 + float32(i%3)
	}
	return x, labels, weights
}

// TestSegNet checks a whole segmentation network: a planned-memory
// training function (NewFunc, as training loops build them) against the
// plain graph, bit for bit, and the gradient against finite differences
// (with a small step for the ReLU and max-pool network, whose kinks a large
// one crosses, and the default step for its smooth variant).
func TestSegNet(t *testing.T) {
	xd, ld, wd := segNetData()
	p := segNetParams()
	g := nn.NewGraph(p)
	var loss *G.Node
	if err := nn.Build(func() error {
		loss = segNet(g, letInput(g, "x", xd, 2, 2, 12, 12), letInput(g, "labels", ld, 2, 6, 6), letInput(g, "w", wd, 2, 6, 6), false)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	vals, want := runOnce(t, g, loss, loss)
	for n := range want {
		if strings.Contains(n, "running") {
			t.Fatalf("running statistics %s differentiated", n)
		}
	}
	wantLoss := float64(vals[0][0])

	f, err := nn.NewFunc(nn.FuncDef{Params: p, Grad: true, Inputs: [][]int{{2, 2, 12, 12}, {2, 6, 6}, {2, 6, 6}},
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			return []*G.Node{segNet(g, in[0], in[1], in[2], false)}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 2 {
		if _, err := f.Call(tensor.New(tensor.WithShape(2, 2, 12, 12), tensor.WithBacking(xd)),
			tensor.New(tensor.WithShape(2, 6, 6), tensor.WithBacking(ld)),
			tensor.New(tensor.WithShape(2, 6, 6), tensor.WithBacking(wd))); err != nil {
			t.Fatal(err)
		}
		if f.Scalar(0) != wantLoss {
			t.Fatalf("planned loss %g, plain graph %g", f.Scalar(0), wantLoss)
		}
		fn, fg := f.Gradients()
		for i, n := range fn {
			for j, v := range fg[i].Data().([]float32) {
				if v != want[n][j] {
					t.Fatalf("planned gradient of %s[%d] = %g, plain graph %g", n, j, v, want[n][j])
				}
			}
		}
	}

	for _, smooth := range []bool{false, true} {
		g := nn.NewGraph(p)
		if err := nn.Build(func() error {
			loss = segNet(g, letInput(g, "x", xd, 2, 2, 12, 12), letInput(g, "labels", ld, 2, 6, 6), letInput(g, "w", wd, 2, 6, 6), smooth)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		o := nntest.Options{Seed: 9, Probes: 6, Eps: 1e-3}
		if smooth {
			o.Eps = 0
		}
		nntest.CheckGraph(t, g, loss, o)
	}
}
