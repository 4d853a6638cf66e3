package edits

import (
	"fmt"

	"github.com/clockwork-go/clockwork/captions"
)

// EvalResult is an editor's evaluation on the held-out pairs.
type EvalResult struct {
	Report  Report `json:"report"`
	Ceiling Report `json:"true_edits"`
	Outputs []float32
	// Results are the pairs' own measures, in the set's order.
	Results []Result `json:"-"`
}

// Evaluate edits the first n pairs of set (the test split: edits.OpenSplit
// ("test", n)) and measures them (Evaluate, Summarise), with the true
// edits' own measures as the ceiling; m is the measurer
// (captions.DefaultMeasurer).
func (e *Editor) Evaluate(m *captions.Measurer, set *Set, n int, o Options, reps int, progress func(int)) (*EvalResult, error) {
	if n <= 0 || n > set.Len() {
		return nil, fmt.Errorf("evaluate %d pairs of a set of %d", n, set.Len())
	}
	per := e.Shape[0] * e.Shape[1] * e.Shape[2]
	if s := set.Data; s.C != e.Shape[0] || s.H != e.Shape[1] || s.W != e.Shape[2] {
		return nil, fmt.Errorf("the pairs are %d×%d×%d, -model %s edits %d×%d×%d", s.C, s.H, s.W, e.Dir, e.Shape[0], e.Shape[1], e.Shape[2])
	}
	sub := set.Subset(n)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	src := make([]float32, n*per)
	tgt := make([]float32, n*per)
	sub.Data.Inputs.Batch(idx, src, nil)
	sub.Data.Batch(idx, tgt, nil)
	out, err := e.Edit(src, n, sub.Phrases(), o, progress)
	if err != nil {
		return nil, err
	}
	res, err := Evaluate(m, sub, out, n)
	if err != nil {
		return nil, err
	}
	rep, err := Summarise(sub, res, reps, o.Seed+1)
	if err != nil {
		return nil, err
	}
	cres, err := Evaluate(m, sub, tgt, n)
	if err != nil {
		return nil, err
	}
	ceil, err := Summarise(sub, cres, reps, o.Seed+1)
	if err != nil {
		return nil, err
	}
	return &EvalResult{Report: rep, Ceiling: ceil, Outputs: out, Results: res}, nil
}
