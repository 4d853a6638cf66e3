package nn

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"gorgonia.org/tensor"
)

// Params is a named store of float32 parameter tensors, kept in the order
// they were declared. Names follow PyTorch's state_dict convention
// ("down_blocks.0.resnets.1.conv1.weight"), so a store maps one to one onto a
// diffusers checkpoint.
//
// Graphs built from a store share its tensors: an optimiser step that updates
// a tensor in place is seen by every graph at its next run.
type Params struct {
	names  []string
	byName map[string]*tensor.Dense

	shapeOnly bool            // NewShapeOnlyParams: nothing is allocated
	size      float64         // values declared, for a shape-only store
	declared  map[string]bool // names declared, for a shape-only store
}

// NewParams returns an empty store.
func NewParams() *Params {
	return &Params{byName: map[string]*tensor.Dense{}}
}

// NewShapeOnlyParams returns a store that only counts what is declared:
// Declare allocates nothing and returns nil, and Size reports the number of
// values declared. Models use it to size a configuration before allocating
// it; its other methods see an empty store.
func NewShapeOnlyParams() *Params {
	return &Params{byName: map[string]*tensor.Dense{}, shapeOnly: true, declared: map[string]bool{}}
}

// Size returns the number of values declared so far, as a float64 so that
// a shape-only store counts sizes beyond what an int holds.
func (p *Params) Size() float64 {
	if p.shapeOnly {
		return p.size
	}
	return float64(p.Count())
}

// Init says how a new parameter is filled.
type Init struct {
	kind  int
	value float64
}

const (
	initConst = iota
	initUniform
	initNormal
)

// Const fills a parameter with v.
func Const(v float64) Init { return Init{initConst, v} }

// Uniform fills a parameter from U(-bound, bound).
func Uniform(bound float64) Init { return Init{initUniform, bound} }

// Normal fills a parameter from N(0, std²).
func Normal(std float64) Init { return Init{initNormal, std} }

// Declare adds a parameter of the given shape, filled by init from a random
// stream that depends only on seed and name, so that adding or reordering
// other parameters never changes it. It panics if the name is taken, which
// is a programming error.
func (p *Params) Declare(name string, seed uint64, init Init, shape ...int) *tensor.Dense {
	if _, ok := p.byName[name]; ok || p.declared[name] {
		panic(fmt.Sprintf("nn: parameter %q declared twice", name))
	}
	if p.shapeOnly {
		n := 1.0
		for _, d := range shape {
			n *= float64(d)
		}
		p.size += n
		p.declared[name] = true
		return nil
	}
	data := make([]float32, tensor.Shape(shape).TotalSize())
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	for i := range data {
		switch init.kind {
		case initConst:
			data[i] = float32(init.value)
		case initUniform:
			data[i] = float32((2*rng.Float64() - 1) * init.value)
		case initNormal:
			data[i] = float32(rng.NormFloat64() * init.value)
		}
	}
	t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	p.names = append(p.names, name)
	p.byName[name] = t
	return t
}

// Get returns the named parameter, or nil.
func (p *Params) Get(name string) *tensor.Dense { return p.byName[name] }

// Names returns the parameter names in declaration order.
func (p *Params) Names() []string { return slices.Clone(p.names) }

// Len returns the number of parameter tensors.
func (p *Params) Len() int { return len(p.names) }

// Count returns the total number of scalar parameters.
func (p *Params) Count() int {
	n := 0
	for _, t := range p.byName {
		n += t.Shape().TotalSize()
	}
	return n
}

// Data returns the float32 backing array of the named parameter.
func (p *Params) Data(name string) []float32 { return p.byName[name].Float32s() }

// Clone returns a deep copy of the store.
func (p *Params) Clone() *Params {
	q := NewParams()
	for _, n := range p.names {
		t := p.byName[n]
		q.names = append(q.names, n)
		q.byName[n] = tensor.New(tensor.WithShape(t.Shape().Clone()...), tensor.WithBacking(slices.Clone(t.Float32s())))
	}
	return q
}

// Join returns a store over the tensors of every store given, shared and
// not copied, in order: training a U-Net jointly with its text encoder
// updates both through one store. A name in two stores is an error.
func Join(stores ...*Params) (*Params, error) {
	q := NewParams()
	for _, p := range stores {
		for _, n := range p.names {
			if _, ok := q.byName[n]; ok {
				return nil, fmt.Errorf("join parameter stores: %q is in two of them", n)
			}
			q.names = append(q.names, n)
			q.byName[n] = p.byName[n]
		}
	}
	return q, nil
}

// Select returns a store over the tensors of p that have the names of
// layout, shared and not copied, in layout's order (the part of a joined
// store, or of its EMA, that belongs to one model). A name p lacks, or a
// shape that differs, is an error.
func (p *Params) Select(layout *Params) (*Params, error) {
	q := NewParams()
	for _, n := range layout.names {
		t, ok := p.byName[n]
		if !ok {
			return nil, fmt.Errorf("parameter %q missing", n)
		}
		if !t.Shape().Eq(layout.byName[n].Shape()) {
			return nil, fmt.Errorf("parameter %q has shape %v, want %v", n, t.Shape(), layout.byName[n].Shape())
		}
		q.names = append(q.names, n)
		q.byName[n] = t
	}
	return q, nil
}

// CopyFrom copies every parameter's values from q, which must hold the same
// names and shapes.
func (p *Params) CopyFrom(q *Params) error {
	if err := p.SameLayout(q); err != nil {
		return err
	}
	for _, n := range p.names {
		copy(p.Data(n), q.Data(n))
	}
	return nil
}

// SameLayout reports, as an error, the first difference in names or shapes
// between p and q.
func (p *Params) SameLayout(q *Params) error {
	if len(p.names) != len(q.names) {
		return fmt.Errorf("parameter stores differ: %d and %d tensors", len(p.names), len(q.names))
	}
	for _, n := range p.names {
		a, b := p.byName[n], q.byName[n]
		if b == nil {
			return fmt.Errorf("parameter %q missing", n)
		}
		if !a.Shape().Eq(b.Shape()) {
			return fmt.Errorf("parameter %q has shape %v, want %v", n, b.Shape(), a.Shape())
		}
	}
	return nil
}

// Set replaces the values of existing parameters from a map of arrays keyed
// by name, as read from a checkpoint. Every parameter must be present with
// its exact shape, and no other key may appear; the error names the first
// offending key. Nothing is changed unless all keys check out.
func (p *Params) Set(arrays map[string]*tensor.Dense) error {
	var extra []string
	for n := range arrays {
		if _, ok := p.byName[n]; !ok {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("unexpected weight %q (%d unexpected in all)", extra[0], len(extra))
	}
	for _, n := range p.names {
		a, ok := arrays[n]
		if !ok {
			return fmt.Errorf("missing weight %q", n)
		}
		if a.Dtype() != tensor.Float32 {
			return fmt.Errorf("weight %q has dtype %v, want float32", n, a.Dtype())
		}
		if want := p.byName[n].Shape(); !a.Shape().Eq(want) {
			return fmt.Errorf("weight %q has shape %v, want %v", n, a.Shape(), want)
		}
		for _, v := range a.Float32s() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("weight %q holds NaN or Inf", n)
			}
		}
	}
	for _, n := range p.names {
		copy(p.Data(n), arrays[n].Float32s())
	}
	return nil
}
