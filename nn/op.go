package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// kernel is what each of our float32 ops supplies; op wraps it into a gorgonia Op.
//
// Every op instance owns its output buffer and reuses it from one run of the
// graph to the next, so a compiled graph allocates no tensors in steady state.
// A value read from a node is therefore only valid until the next run.
type kernel struct {
	// name identifies the op and every hyperparameter it has; it is the op's
	// hash, so two nodes with the same name and the same children are merged
	// by gorgonia (which is correct: they compute the same value).
	name string
	// in gives the number of dimensions of each input (0 = scalar).
	in []int
	// out is the number of dimensions of the output (0 = float32 scalar).
	out int
	// shape returns the output shape for the given input shapes, or an error.
	shape func(in []tensor.Shape) (tensor.Shape, error)
	// do computes the output into out from the inputs (all contiguous float32).
	do func(out []float32, in [][]float32, shapes []tensor.Shape) error
	// diff builds the gradient nodes for each input (nil where not differentiable).
	diff func(in G.Nodes, out, grad *G.Node) (G.Nodes, error)
	// wrt marks the inputs the op is differentiable with respect to; nil = all.
	wrt []bool
	// view, when set, makes the op return a tensor sharing memory with its
	// first input (for reshapes and unpacking); do is then not called.
	view func(in *tensor.Dense) (*tensor.Dense, error)
}

// op is a gorgonia.Op (and SDOp) backed by a kernel.
type op struct {
	kernel
	buf    *tensor.Dense
	scalar G.F32
	// Argument slices reused by every Do (gorgonia runs an op's Do calls
	// one at a time).
	args   [][]float32
	shapes []tensor.Shape
	lastIn []tensor.Shape // the input shapes buf was made for
	one    [1]float32     // the output of a scalar op
}

func tensorType(dims int) hm.Type {
	if dims == 0 {
		return tensor.Float32
	}
	return G.TensorType{Dims: dims, Of: tensor.Float32}
}

// Arity implements gorgonia.Op.
func (o *op) Arity() int { return len(o.in) }

// Type implements gorgonia.Op.
func (o *op) Type() hm.Type {
	ts := make(hm.Types, 0, len(o.in)+1)
	for _, d := range o.in {
		ts = append(ts, tensorType(d))
	}
	ts = append(ts, tensorType(o.out))
	return hm.NewFnType(ts...)
}

// InferShape implements gorgonia.Op.
func (o *op) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(ds))
	for i, d := range ds {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%s: input %d has no shape", o.name, i)
		}
		shapes[i] = s
	}
	if len(shapes) != len(o.in) {
		return nil, fmt.Errorf("%s: got %d inputs, want %d", o.name, len(shapes), len(o.in))
	}
	return o.shape(shapes)
}

// Do implements gorgonia.Op.
func (o *op) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != len(o.in) {
		return nil, fmt.Errorf("%s: got %d inputs, want %d", o.name, len(vs), len(o.in))
	}
	if o.view != nil {
		t, ok := vs[0].(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%s: input is %T, want *tensor.Dense", o.name, vs[0])
		}
		return o.view(t)
	}
	if len(o.args) != len(vs) {
		o.args, o.shapes = make([][]float32, len(vs)), make([]tensor.Shape, len(vs))
	}
	in, shapes := o.args, o.shapes
	for i, v := range vs {
		d, s, err := floats(v)
		if err != nil {
			return nil, fmt.Errorf("%s: input %d: %w", o.name, i, err)
		}
		in[i], shapes[i] = d, s
	}
	same := len(o.lastIn) == len(shapes)
	for i := 0; same && i < len(shapes); i++ {
		same = o.lastIn[i].Eq(shapes[i])
	}
	if !same || (o.out > 0 && o.buf == nil) {
		shp, err := o.shape(shapes)
		if err != nil {
			return nil, err
		}
		o.lastIn = o.lastIn[:0]
		for _, s := range shapes {
			o.lastIn = append(o.lastIn, slices.Clone(s))
		}
		if o.out > 0 && (o.buf == nil || !o.buf.Shape().Eq(shp)) {
			o.buf = tensor.New(tensor.WithShape(shp...), tensor.Of(tensor.Float32))
		}
	}
	if o.out == 0 {
		if err := o.do(o.one[:], in, shapes); err != nil {
			return nil, err
		}
		o.scalar = G.F32(o.one[0])
		return &o.scalar, nil
	}
	if err := o.do(o.buf.Float32s(), in, shapes); err != nil {
		return nil, err
	}
	return o.buf, nil
}

// ReturnsPtr implements gorgonia.Op.
func (o *op) ReturnsPtr() bool { return false }

// CallsExtern implements gorgonia.Op.
func (o *op) CallsExtern() bool { return false }

// OverwritesInput implements gorgonia.Op.
func (o *op) OverwritesInput() int { return -1 }

// WriteHash implements gorgonia.Op.
func (o *op) WriteHash(h hash.Hash) { fmt.Fprint(h, o.name) }

// Hashcode implements gorgonia.Op.
func (o *op) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// String implements gorgonia.Op.
func (o *op) String() string { return o.name }

// DiffWRT implements gorgonia.SDOp.
func (o *op) DiffWRT(n int) []bool {
	if o.diff == nil {
		return make([]bool, n)
	}
	if o.wrt != nil {
		return o.wrt
	}
	r := make([]bool, n)
	for i := range r {
		r[i] = true
	}
	return r
}

// SymDiff implements gorgonia.SDOp.
func (o *op) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if o.diff == nil {
		return nil, fmt.Errorf("%s is not differentiable", o.name)
	}
	return o.diff(in, out, grad)
}

// apply adds a node computing k on the children.
func apply(k kernel, children ...*G.Node) *G.Node {
	n, err := G.ApplyOp(&op{kernel: k}, children...)
	if err != nil {
		panic(fmt.Errorf("nn: %s: %w", k.name, err))
	}
	return n
}

// floats returns the contiguous float32 data and shape of a value.
func floats(v G.Value) ([]float32, tensor.Shape, error) {
	switch t := v.(type) {
	case *tensor.Dense:
		if t.Dtype() != tensor.Float32 {
			return nil, nil, fmt.Errorf("dtype %v, want float32", t.Dtype())
		}
		if t.IsScalar() {
			return []float32{t.ScalarValue().(float32)}, tensor.ScalarShape(), nil
		}
		if t.RequiresIterator() {
			t = t.Materialize().(*tensor.Dense)
		}
		return t.Float32s(), t.Shape(), nil
	case *G.F32:
		return []float32{float32(*t)}, tensor.ScalarShape(), nil
	default:
		return nil, nil, fmt.Errorf("value of type %T, want float32 tensor", v)
	}
}
