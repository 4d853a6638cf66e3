package nn_test

import (
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/nn/nntest"
)

// frozenAndTrainable returns a "teacher" store (two convolutions) and a
// "student" store (one convolution) with distinct names.
func frozenAndTrainable() (teacher, student *nn.Params) {
	teacher, student = nn.NewParams(), nn.NewParams()
	nn.DeclareConv(teacher, 1, "t1", 2, 3, 3)
	nn.DeclareConv(teacher, 1, "t2", 3, 2, 3)
	nn.DeclareConv(student, 2, "s", 3, 3, 3)
	return teacher, student
}

// studentThroughTeacher is t2(s(t1(x))): the student sits between two frozen
// layers, so its gradient flows back through t2.
func studentThroughTeacher(g *nn.Graph, x *G.Node) *G.Node {
	h := nn.SiLU(g.Conv("t1", x, nn.Same(3, 1, 1)))
	h = nn.SiLU(g.Conv("s", h, nn.Same(3, 1, 1)))
	return g.Conv("t2", h, nn.Same(3, 1, 1))
}

// TestFrozenGradients: a graph over a trainable and a frozen store
// differentiates only the trainable one, and its gradients (through the
// frozen layers) match finite differences.
func TestFrozenGradients(t *testing.T) {
	teacher, student := frozenAndTrainable()
	g := nn.NewGraph(student).Freeze(teacher)
	var out *G.Node
	if err := nn.Build(func() error {
		x := g.Input("x", 2, 2, 5, 5)
		data := make([]float32, 2*2*5*5)
		for i := range data {
			data[i] = float32(i%7) / 7
		}
		nn.Let(x, tensor.New(tensor.WithShape(2, 2, 5, 5), tensor.WithBacking(data)))
		out = studentThroughTeacher(g, x)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	names, _ := g.UsedParams()
	if !slices.Equal(names, []string{"s.weight", "s.bias"}) {
		t.Fatalf("trainable parameters %v, want only the student's", names)
	}
	nntest.CheckGraph(t, g, out, nntest.Options{Seed: 3})
}

// TestFrozenStoreUnchangedByTraining: Adam steps on a graph with a frozen
// store change the trainable store and leave the frozen one bit for bit.
func TestFrozenStoreUnchangedByTraining(t *testing.T) {
	teacher, student := frozenAndTrainable()
	before := teacher.Clone()
	studentBefore := student.Clone()
	f, err := nn.NewFunc(nn.FuncDef{Params: student, Frozen: []*nn.Params{teacher}, Grad: true,
		Inputs: [][]int{{2, 2, 5, 5}, {2, 2, 5, 5}},
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			return []*G.Node{nn.MSE(studentThroughTeacher(g, in[0]), in[1])}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(2, 2, 5, 5), tensor.WithBacking(make([]float32, 100)))
	y := tensor.New(tensor.WithShape(2, 2, 5, 5), tensor.WithBacking(make([]float32, 100)))
	for i := range 100 {
		x.Float32s()[i] = float32(i%9) / 9
		y.Float32s()[i] = float32(i%4) / 4
	}
	opt := nn.NewAdam(1e-2)
	var first, last float64
	for step := range 20 {
		if _, err := f.Call(x, y); err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = f.Scalar(0)
		}
		last = f.Scalar(0)
		names, grads := f.Gradients()
		if len(names) != 2 {
			t.Fatalf("gradients for %v, want the student's two tensors", names)
		}
		if err := opt.Update(student, names, grads); err != nil {
			t.Fatal(err)
		}
	}
	if !(last < first) {
		t.Errorf("loss did not fall: %g → %g", first, last)
	}
	for _, n := range teacher.Names() {
		if !slices.Equal(teacher.Data(n), before.Data(n)) {
			t.Errorf("frozen %s changed", n)
		}
	}
	if slices.Equal(student.Data("s.weight"), studentBefore.Data("s.weight")) {
		t.Error("the trainable store did not change")
	}
}

// TestFuncErrors: a name in two stores, inputs of the wrong shape and a
// non-scalar loss are errors, not panics.
func TestFuncErrors(t *testing.T) {
	teacher, _ := frozenAndTrainable()
	twin := nn.NewParams()
	nn.DeclareConv(twin, 1, "t1", 2, 3, 3)
	_, err := nn.NewFunc(nn.FuncDef{Params: twin, Frozen: []*nn.Params{teacher}, Inputs: [][]int{{1, 2, 4, 4}},
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			return []*G.Node{g.Conv("t1", in[0], nn.Same(3, 1, 1))}, nil
		}})
	if err == nil || !strings.Contains(err.Error(), "two stores") {
		t.Errorf("a parameter in two stores: %v", err)
	}
	f, err := nn.NewFunc(nn.FuncDef{Frozen: []*nn.Params{teacher}, Inputs: [][]int{{1, 2, 4, 4}},
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			return []*G.Node{g.Conv("t1", in[0], nn.Same(3, 1, 1))}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Call(tensor.New(tensor.WithShape(1, 2, 4, 5), tensor.Of(tensor.Float32))); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("wrong input shape: %v", err)
	}
	if _, err := nn.NewFunc(nn.FuncDef{Params: teacher, Inputs: [][]int{{1, 2, 4, 4}}, Grad: true,
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			return []*G.Node{g.Conv("t1", in[0], nn.Same(3, 1, 1))}, nil
		}}); err == nil || !strings.Contains(err.Error(), "scalar") {
		t.Errorf("a tensor loss: %v", err)
	}
}

// TestFuncsCompilesOncePerShape: Funcs reuses the function compiled for a
// shape and compiles another for a new one.
func TestFuncsCompilesOncePerShape(t *testing.T) {
	teacher, _ := frozenAndTrainable()
	builds := 0
	fs := nn.Funcs{Def: func(shapes [][]int) nn.FuncDef {
		builds++
		return nn.FuncDef{Frozen: []*nn.Params{teacher}, Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			return []*G.Node{g.Conv("t1", in[0], nn.Same(3, 1, 1))}, nil
		}}
	}}
	for _, n := range []int{1, 3, 1, 3, 1} {
		out, err := fs.Call(tensor.New(tensor.WithShape(n, 2, 4, 4), tensor.Of(tensor.Float32)))
		if err != nil {
			t.Fatal(err)
		}
		if !out[0].Shape().Eq(tensor.Shape{n, 3, 4, 4}) {
			t.Errorf("output shape %v", out[0].Shape())
		}
	}
	if builds != 2 {
		t.Errorf("%d compilations for two shapes", builds)
	}
}

// TestShuffleRates: for r = 2, 3, 4 (the unrolled rows and the general
// loop) DepthToSpace matches the definition element by element, SpaceToDepth
// undoes it, AddDepthToSpace is base + DepthToSpace bit for bit, and
// AvgPool2x is the mean of each 2×2 block.
func TestShuffleRates(t *testing.T) {
	for _, r := range []int{2, 3, 4} {
		n, c, h, w := 2, 3, 2, 6
		x := make([]float32, n*c*r*r*h*w)
		base := make([]float32, n*c*h*r*w*r)
		for i := range x {
			x[i] = float32(i%97) * 0.37
		}
		for i := range base {
			base[i] = float32(i%89) * -1.3
		}
		f, err := nn.NewFunc(nn.FuncDef{Inputs: [][]int{{n, c * r * r, h, w}, {n, c, h * r, w * r}}, Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			s := nn.DepthToSpace(in[0], r)
			return []*G.Node{s, nn.SpaceToDepth(s, r), nn.AddDepthToSpace(in[1], in[0], r), nn.AvgPool2x(in[1])}, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := f.Call(tensor.New(tensor.WithShape(n, c*r*r, h, w), tensor.WithBacking(x)),
			tensor.New(tensor.WithShape(n, c, h*r, w*r), tensor.WithBacking(base)))
		if err != nil {
			t.Fatal(err)
		}
		sp, added, pooled := out[0].Float32s(), out[2].Float32s(), out[3].Float32s()
		H, W := h*r, w*r
		for b := 0; b < n; b++ {
			for ch := 0; ch < c; ch++ {
				for y := 0; y < H; y++ {
					for xx := 0; xx < W; xx++ {
						o := ((b*c+ch)*H+y)*W + xx
						want := x[((b*c*r*r+ch*r*r+(y%r)*r+xx%r)*h+y/r)*w+xx/r]
						if sp[o] != want {
							t.Fatalf("r=%d: out[%d,%d,%d,%d] = %v, want %v", r, b, ch, y, xx, sp[o], want)
						}
						if added[o] != base[o]+want {
							t.Fatalf("r=%d: AddDepthToSpace[%d] = %v, want %v", r, o, added[o], base[o]+want)
						}
						if y%2 == 0 && xx%2 == 0 {
							m := (base[o] + base[o+1] + base[o+W] + base[o+W+1]) * 0.25
							if got := pooled[((b*c+ch)*(H/2)+y/2)*(W/2)+xx/2]; got != m {
								t.Fatalf("r=%d: AvgPool2x = %v, want %v", r, got, m)
							}
						}
					}
				}
			}
		}
		if !slices.Equal(out[1].Float32s(), x) {
			t.Errorf("r=%d: SpaceToDepth does not undo DepthToSpace", r)
		}
	}
}

// TestDepthToSpaceLayout: DepthToSpace follows pixel_shuffle's layout and
// SpaceToDepth undoes it.
func TestDepthToSpaceLayout(t *testing.T) {
	x := make([]float32, 1*8*2*2)
	for i := range x {
		x[i] = float32(i)
	}
	f, err := nn.NewFunc(nn.FuncDef{Inputs: [][]int{{1, 8, 2, 2}}, Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
		s := nn.DepthToSpace(in[0], 2)
		return []*G.Node{s, nn.SpaceToDepth(s, 2)}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Call(tensor.New(tensor.WithShape(1, 8, 2, 2), tensor.WithBacking(x)))
	if err != nil {
		t.Fatal(err)
	}
	// torch.nn.functional.pixel_shuffle(torch.arange(32.).reshape(1,8,2,2), 2)[0,0]
	want := []float32{0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15}
	if got := out[0].Float32s()[:16]; !slices.Equal(got, want) {
		t.Errorf("channel 0: %v, want %v", got, want)
	}
	if !slices.Equal(out[1].Float32s(), x) {
		t.Error("SpaceToDepth does not undo DepthToSpace")
	}
}

// TestFuncExchange: an exchanged output is the caller's (later calls do
// not touch it), the buffer given in return receives the next call's
// output, every call's values are a fresh function's, and bad exchanges
// fail.
func TestFuncExchange(t *testing.T) {
	teacher, student := frozenAndTrainable()
	def := nn.FuncDef{Frozen: []*nn.Params{teacher, student}, Inputs: [][]int{{2, 2, 5, 5}},
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			return []*G.Node{studentThroughTeacher(g, in[0])}, nil
		}}
	input := func(k int) *tensor.Dense {
		x := tensor.New(tensor.WithShape(2, 2, 5, 5), tensor.Of(tensor.Float32))
		for i, v := 0, x.Float32s(); i < len(v); i++ {
			v[i] = float32((i*k)%11)/11 - 0.5
		}
		return x
	}
	want := func(x *tensor.Dense) []float32 {
		f, err := nn.NewFunc(def)
		if err != nil {
			t.Fatal(err)
		}
		out, err := f.Call(x)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(out[0].Float32s())
	}
	w1, w2 := want(input(1)), want(input(2))
	if slices.Equal(w1, w2) {
		t.Fatal("the two inputs give the same output")
	}
	f, err := nn.NewFunc(def)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Exchange(0, nil); err == nil {
		t.Error("exchange before the first call: no error")
	}
	out, err := f.Call(input(1))
	if err != nil {
		t.Fatal(err)
	}
	first := out[0]
	got, err := f.Exchange(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != first {
		t.Fatal("exchange did not hand over the tensor the call returned")
	}
	out, err = f.Call(input(2))
	if err != nil {
		t.Fatal(err)
	}
	if out[0] == got {
		t.Fatal("the call after an exchange wrote into the exchanged tensor")
	}
	if !slices.Equal(got.Float32s(), w1) || !slices.Equal(out[0].Float32s(), w2) {
		t.Fatal("values changed by an exchange and a second call")
	}
	second, err := f.Exchange(0, got)
	if err != nil {
		t.Fatal(err)
	}
	out, err = f.Call(input(1))
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != got || !slices.Equal(got.Float32s(), w1) || !slices.Equal(second.Float32s(), w2) {
		t.Fatal("the buffer given back did not receive the next call's output, or the values differ")
	}
	for _, bad := range []struct {
		i int
		t *tensor.Dense
	}{{1, nil}, {-1, nil}, {0, tensor.New(tensor.WithShape(2, 2, 5, 4), tensor.Of(tensor.Float32))}, {0, out[0]}} {
		if _, err := f.Exchange(bad.i, bad.t); err == nil {
			t.Errorf("bad exchange of output %d: no error", bad.i)
		}
	}
}
