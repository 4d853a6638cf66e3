package nn

import (
	"fmt"
	"slices"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Graph is a gorgonia expression graph whose parameter nodes come from
// parameter stores: the first use of a name creates a node bound to the
// store's tensor, later uses return the same node.
//
// A graph has one trainable store (the one NewGraph takes, which may be nil)
// and any number of frozen ones (Freeze): both are read the same way, but
// Grad differentiates only the trainable store's parameters, so a small
// network (a Clockwork adaptor, say) can be trained through the layers of a
// frozen teacher without computing, or applying, gradients for them. A
// parameter name must be unique across the stores of a graph.
//
// Building a graph panics on inconsistent shapes, which is a programming
// error; Build turns such a panic into an error for callers that assemble
// graphs from user-supplied configurations.
type Graph struct {
	G      *G.ExprGraph
	params *Params
	frozen []*Params
	nodes  map[string]*G.Node
	used   []string // trainable parameters, in order of first use
	// inference marks a graph that is never differentiated, whose layers
	// may use inference-only fusions (NormConv).
	inference bool
}

// NewGraph returns an empty graph whose trainable parameters come from p
// (nil: none).
func NewGraph(p *Params) *Graph {
	return &Graph{G: G.NewGraph(), params: p, nodes: map[string]*G.Node{}}
}

// Freeze adds read-only parameter stores to the graph and returns it. Their
// parameters are read like the trainable ones but never differentiated.
func (g *Graph) Freeze(stores ...*Params) *Graph {
	g.frozen = append(g.frozen, stores...)
	return g
}

// ForInference marks the graph as never differentiated and returns it: its
// layers may then use fusions that have no gradient (NormConv), and Grad
// may fail. NewFunc marks the functions it compiles without Grad.
func (g *Graph) ForInference() *Graph {
	g.inference = true
	return g
}

// Inference reports whether the graph is marked as never differentiated.
func (g *Graph) Inference() bool { return g.inference }

// Store returns the graph's trainable parameter store.
func (g *Graph) Store() *Params { return g.params }

// Param returns the node of the named parameter, from the trainable store
// or a frozen one. It panics if no store, or more than one, has the name.
func (g *Graph) Param(name string) *G.Node {
	if n, ok := g.nodes[name]; ok {
		return n
	}
	var t *tensor.Dense
	trainable := false
	if g.params != nil {
		if t = g.params.Get(name); t != nil {
			trainable = true
		}
	}
	for _, f := range g.frozen {
		if ft := f.Get(name); ft != nil {
			if t != nil {
				panic(fmt.Sprintf("nn: parameter %q is in two stores of one graph", name))
			}
			t = ft
		}
	}
	if t == nil {
		panic(fmt.Sprintf("nn: no parameter %q", name))
	}
	n := G.NewTensor(g.G, tensor.Float32, t.Shape().Dims(), G.WithShape(t.Shape().Clone()...), G.WithName(name), G.WithValue(t))
	g.nodes[name] = n
	if trainable {
		g.used = append(g.used, name)
	}
	return n
}

// Input returns a new float32 input node of the given shape, to be bound
// with Let before each run.
func (g *Graph) Input(name string, shape ...int) *G.Node {
	return G.NewTensor(g.G, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name))
}

// UsedParams returns the names of the trainable parameters the graph uses
// and their nodes, in order of first use.
func (g *Graph) UsedParams() ([]string, G.Nodes) {
	nodes := make(G.Nodes, len(g.used))
	for i, n := range g.used {
		nodes[i] = g.nodes[n]
	}
	return slices.Clone(g.used), nodes
}

// Grad adds the symbolic gradient of the scalar loss with respect to every
// trainable parameter the graph uses and returns the parameter names and
// their gradient nodes. Frozen parameters get no gradient.
func (g *Graph) Grad(loss *G.Node) ([]string, G.Nodes, error) {
	names, nodes := g.UsedParams()
	if len(nodes) == 0 {
		return nil, nil, fmt.Errorf("gradient: the graph uses no trainable parameter")
	}
	grads, err := G.Grad(loss, nodes...)
	if err != nil {
		return nil, nil, fmt.Errorf("gradient: %w", err)
	}
	return names, grads, nil
}

// Build runs f and returns its error, or the panic of a graph-building
// function inside it as an error.
func Build(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("build graph: %w", e)
			} else {
				err = fmt.Errorf("build graph: %v", r)
			}
		}
	}()
	return f()
}

// Machine runs a compiled graph.
type Machine struct {
	vm G.VM
}

// compiling serialises compilations: gorgonia's NewTapeMachine sets the
// engine of every value bound to the graph, parameter tensors included,
// which graphs compiled at the same time over a shared (frozen) store would
// race on.
var compiling sync.Mutex

// Compile compiles the graph for repeated runs with gorgonia's TapeMachine.
// Graphs may be compiled from several goroutines.
func (g *Graph) Compile() (*Machine, error) {
	compiling.Lock()
	defer compiling.Unlock()
	prog, locs, err := G.Compile(g.G)
	if err != nil {
		return nil, fmt.Errorf("compile graph: %w", err)
	}
	return &Machine{vm: G.NewTapeMachine(g.G, G.WithPrecompiled(prog, locs))}, nil
}

// Run executes the graph once on the values currently bound to its inputs.
func (m *Machine) Run() error {
	m.vm.Reset()
	return m.vm.RunAll()
}

// Close releases the machine.
func (m *Machine) Close() error { return m.vm.Close() }

// Let binds a host tensor to an input node.
func Let(n *G.Node, t *tensor.Dense) error { return G.Let(n, t) }

// Value returns the float32 tensor held by a node after a run. It is only
// valid until the next run of the graph.
func Value(n *G.Node) *tensor.Dense {
	switch v := n.Value().(type) {
	case *tensor.Dense:
		return v
	case *G.F32:
		return tensor.New(tensor.FromScalar(float32(*v)))
	}
	return nil
}

// Scalar returns a scalar node's value after a run as float64.
func Scalar(n *G.Node) float64 {
	switch v := n.Value().(type) {
	case *G.F32:
		return float64(*v)
	case *tensor.Dense:
		d, _, err := floats(v)
		if err == nil && len(d) == 1 {
			return float64(d[0])
		}
	}
	panic(fmt.Sprintf("nn: node %v holds no scalar", n))
}
