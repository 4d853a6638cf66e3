package nn

import (
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// FuncDef describes a compiled function: a graph over parameter stores with
// inputs of fixed shapes.
type FuncDef struct {
	// Params is the trainable store (nil: none); Frozen are read-only stores
	// (see Graph).
	Params *Params
	Frozen []*Params
	// Inputs are the shapes of the inputs, bound in this order by Call.
	Inputs [][]int
	// Build adds the computation to g given the input nodes and returns the
	// output nodes. Shape errors may panic (Build recovers them) or be
	// returned.
	Build func(g *Graph, in []*G.Node) ([]*G.Node, error)
	// Grad makes the first output a scalar loss whose gradient with respect
	// to every trainable parameter the graph uses is computed by each Call
	// (read it with Gradients).
	Grad bool
}

// Func is a graph compiled once for fixed input shapes and then called on
// host tensors, with its buffers planned (CompilePlanned): the U-Net's
// stages, the classifier, the training graphs and the Clockwork adaptors all
// run this way.
//
// The tensors a Call returns, and the gradients, belong to the function and
// stay valid until its next Call; copy what must outlive that. A Func is not
// safe for concurrent use.
type Func struct {
	m        *Machine
	ins      []*G.Node
	outs     []*G.Node
	names    []string
	grads    G.Nodes
	outVals  []*tensor.Dense
	gradVals []*tensor.Dense
}

// NewFunc builds and compiles the function a definition describes.
func NewFunc(s FuncDef) (*Func, error) {
	g := NewGraph(s.Params).Freeze(s.Frozen...)
	if !s.Grad {
		g.ForInference()
	}
	f := &Func{}
	if err := Build(func() error {
		for i, sh := range s.Inputs {
			f.ins = append(f.ins, g.Input(fmt.Sprintf("in%d", i), sh...))
		}
		var err error
		f.outs, err = s.Build(g, f.ins)
		return err
	}); err != nil {
		return nil, err
	}
	if len(f.outs) == 0 {
		return nil, fmt.Errorf("compile function: no outputs")
	}
	keep := f.outs
	if s.Grad {
		if f.outs[0].Shape().TotalSize() != 1 {
			return nil, fmt.Errorf("compile function: a loss must be a scalar, have shape %v", f.outs[0].Shape())
		}
		var err error
		if f.names, f.grads, err = g.Grad(f.outs[0]); err != nil {
			return nil, err
		}
		keep = append(append(G.Nodes(nil), f.outs...), f.grads...)
	}
	var err error
	if f.m, err = g.CompilePlanned(keep...); err != nil {
		return nil, err
	}
	f.outVals = make([]*tensor.Dense, len(f.outs))
	f.gradVals = make([]*tensor.Dense, len(f.grads))
	return f, nil
}

// NumOutputs returns the number of outputs.
func (f *Func) NumOutputs() int { return len(f.outs) }

// InputShape returns the shape input i was compiled for.
func (f *Func) InputShape(i int) tensor.Shape { return f.ins[i].Shape().Clone() }

// OutputShape returns the shape of output i.
func (f *Func) OutputShape(i int) tensor.Shape { return f.outs[i].Shape().Clone() }

// Call binds the inputs (float32 tensors of the compiled shapes), runs the
// graph and returns its outputs.
func (f *Func) Call(in ...*tensor.Dense) ([]*tensor.Dense, error) {
	if len(in) != len(f.ins) {
		return nil, fmt.Errorf("%d inputs for a function of %d", len(in), len(f.ins))
	}
	for i, t := range in {
		if !t.Shape().Eq(f.ins[i].Shape()) {
			return nil, fmt.Errorf("input %d has shape %v, want %v", i, t.Shape(), f.ins[i].Shape())
		}
		if t.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("input %d has dtype %v, want float32", i, t.Dtype())
		}
		if err := Let(f.ins[i], t); err != nil {
			return nil, err
		}
	}
	if err := f.m.Run(); err != nil {
		return nil, err
	}
	for i, n := range f.outs {
		f.outVals[i] = Value(n)
	}
	return f.outVals, nil
}

// Exchange hands output i of the last Call to the caller, without a copy,
// and makes t the buffer the next Call writes that output into: the
// returned tensor is the caller's from then on (no later Call touches it),
// and t the function's (the caller must not use it again). t must be a
// float32 tensor of the output's shape, or nil for a new one. Exchange
// fails, changing nothing, before the first Call and for an output that is
// not held in a buffer of its own (a view of another node, a value
// gorgonia computes). A caller that keeps an output from one Call to a
// later one, as Clockwork keeps r_out, exchanges it with the buffer it
// kept before instead of copying it.
func (f *Func) Exchange(i int, t *tensor.Dense) (*tensor.Dense, error) {
	if i < 0 || i >= len(f.outs) {
		return nil, fmt.Errorf("exchange output %d of a function of %d", i, len(f.outs))
	}
	n := f.outs[i]
	o, ok := n.Op().(*op)
	if !ok || o.view != nil || o.out == 0 || o.buf == nil || Value(n) != o.buf {
		return nil, fmt.Errorf("exchange output %d: not held in a buffer of its own", i)
	}
	if t == nil {
		t = tensor.New(tensor.WithShape(o.buf.Shape().Clone()...), tensor.Of(tensor.Float32))
	}
	if !t.Shape().Eq(o.buf.Shape()) || t.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("exchange output %d of shape %v for a %v tensor of shape %v", i, o.buf.Shape(), t.Dtype(), t.Shape())
	}
	if t == o.buf {
		return nil, fmt.Errorf("exchange output %d with its own buffer", i)
	}
	out := o.buf
	o.buf = t
	return out, nil
}

// Scalar returns the value of scalar output i after the last Call as
// float64 (a loss, say).
func (f *Func) Scalar(i int) float64 { return Scalar(f.outs[i]) }

// Gradients returns the trainable parameters' names and their gradients
// from the last Call of a function built with Grad (nil otherwise).
func (f *Func) Gradients() ([]string, []*tensor.Dense) {
	for i, g := range f.grads {
		f.gradVals[i] = Value(g)
	}
	return f.names, f.gradVals
}

// Close releases the compiled graph.
func (f *Func) Close() error { return f.m.Close() }

// Funcs compiles a function once per distinct list of input shapes (a batch
// size, an image size) and reuses it for later calls with the same shapes.
type Funcs struct {
	// Def returns the definition for the given input shapes.
	Def   func(shapes [][]int) FuncDef
	byKey map[string]*Func
}

// For returns the function compiled for the given input shapes, compiling it
// on first use.
func (fs *Funcs) For(shapes ...[]int) (*Func, error) {
	var b strings.Builder
	for _, s := range shapes {
		fmt.Fprint(&b, s, ";")
	}
	key := b.String()
	if f, ok := fs.byKey[key]; ok {
		return f, nil
	}
	s := fs.Def(shapes)
	s.Inputs = shapes
	f, err := NewFunc(s)
	if err != nil {
		return nil, err
	}
	if fs.byKey == nil {
		fs.byKey = map[string]*Func{}
	}
	fs.byKey[key] = f
	return f, nil
}

// Call runs the function compiled for the inputs' shapes.
func (fs *Funcs) Call(in ...*tensor.Dense) ([]*tensor.Dense, error) {
	shapes := make([][]int, len(in))
	for i, t := range in {
		shapes[i] = []int(t.Shape().Clone())
	}
	f, err := fs.For(shapes...)
	if err != nil {
		return nil, err
	}
	return f.Call(in...)
}
