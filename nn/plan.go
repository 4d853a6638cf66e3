package nn

import (
	"fmt"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Memory planning. Every op of ours owns its output buffer; left alone, a
// graph holds one buffer per node for good. A planned graph instead lays the
// buffers of nodes whose lifetimes do not overlap over the same memory: a
// node lives from its computation to its last reader in execution order
// (gorgonia's topological sort, which its tape machine follows), extended
// through views that share its memory and through gorgonia ops that may
// write their result over an input. Only the kept nodes (the outputs a
// caller reads after a run) are guaranteed to hold their values afterwards.

// CompilePlanned compiles the graph like Compile and plans the memory of its
// ops, keeping the values of the given nodes valid after each run.
func (g *Graph) CompilePlanned(keep ...*G.Node) (*Machine, error) {
	m, err := g.Compile()
	if err != nil {
		return nil, err
	}
	if err := planMemory(g.G, keep); err != nil {
		return nil, fmt.Errorf("plan memory: %w", err)
	}
	return m, nil
}

type lifetime struct {
	node       *G.Node
	op         *op
	size       int
	start, end int
}

func planMemory(eg *G.ExprGraph, keep []*G.Node) error {
	sorted, err := G.Sort(eg)
	if err != nil {
		return err
	}
	slices.Reverse(sorted) // execution order
	pos := make(map[*G.Node]int, len(sorted))
	for i, n := range sorted {
		pos[n] = i
	}
	children := func(n *G.Node) []*G.Node {
		var out []*G.Node
		it := eg.From(n.ID())
		for it.Next() {
			out = append(out, it.Node().(*G.Node))
		}
		return out
	}
	// owner maps a node to the node whose buffer holds its value (itself
	// for our computing ops; the viewed buffer's owner for views; nil for
	// inputs and gorgonia's own ops, whose memory gorgonia allocates).
	owner := map[*G.Node]*G.Node{}
	// aliases maps a gorgonia op that may overwrite an input to the owners
	// of its inputs, whose memory may then hold its value.
	aliases := map[*G.Node][]*G.Node{}
	life := map[*G.Node]*lifetime{}
	for _, n := range sorted {
		o, ours := n.Op().(*op)
		switch {
		case n.Op() == nil:
		case ours && o.view != nil:
			for _, c := range children(n) {
				owner[n] = owner[c]
			}
		case ours && o.out > 0:
			owner[n] = n
			life[n] = &lifetime{node: n, op: o, size: n.Shape().TotalSize(), start: pos[n], end: pos[n]}
		case !ours && n.Op().OverwritesInput() >= 0:
			for _, c := range children(n) {
				if ow := owner[c]; ow != nil {
					aliases[n] = append(aliases[n], ow)
				}
				aliases[n] = append(aliases[n], aliases[c]...)
			}
		}
	}
	// holders returns the buffers a node's value may live in.
	holders := func(n *G.Node) []*G.Node {
		h := slices.Clone(aliases[n])
		if ow := owner[n]; ow != nil {
			h = append(h, ow)
		}
		return h
	}
	extend := func(n *G.Node, to int) {
		for _, h := range holders(n) {
			if l := life[h]; l != nil && l.end < to {
				l.end = to
			}
		}
	}
	for _, n := range sorted {
		for _, c := range children(n) {
			extend(c, pos[n])
		}
	}
	for _, k := range keep {
		extend(k, len(sorted))
	}
	// A node read only through a view or an alias is read where they are:
	// propagate ends from views and aliases to their holders, last first.
	for i := len(sorted) - 1; i >= 0; i-- {
		n := sorted[i]
		end := pos[n]
		if l := life[n]; l != nil {
			end = l.end
		}
		for _, h := range holders(n) {
			if l := life[h]; l != nil && h != n && l.end < end {
				l.end = end
			}
		}
	}
	// Greedy first-fit over slabs, in order of start. A kept node's value
	// gets a buffer of its own, shared with no other node, so that a
	// caller may take it (Func.Exchange).
	var lives []*lifetime
	for n, l := range life {
		if !slices.Contains(keep, n) {
			lives = append(lives, l)
		}
	}
	slices.SortFunc(lives, func(a, b *lifetime) int { return a.start - b.start })
	type slab struct {
		size   int
		freeAt int // position after which the slab is free again
	}
	var slabs []*slab
	assigned := make([]*slab, len(lives))
	for i, l := range lives {
		var best *slab
		for _, s := range slabs {
			if s.freeAt < l.start && s.size >= l.size && (best == nil || s.size < best.size) {
				best = s
			}
		}
		if best == nil {
			// Grow the largest free slab rather than add one when none fits.
			for _, s := range slabs {
				if s.freeAt < l.start && (best == nil || s.size > best.size) {
					best = s
				}
			}
			if best == nil {
				best = &slab{}
				slabs = append(slabs, best)
			}
			best.size = max(best.size, l.size)
		}
		best.freeAt = l.end
		assigned[i] = best
	}
	data := map[*slab][]float32{}
	for _, s := range slabs {
		data[s] = make([]float32, s.size)
	}
	for i, l := range lives {
		l.op.buf = tensor.New(tensor.WithShape(l.node.Shape().Clone()...), tensor.WithBacking(data[assigned[i]][:l.size]))
	}
	for _, k := range keep {
		if l := life[k]; l != nil {
			l.op.buf = tensor.New(tensor.WithShape(k.Shape().Clone()...), tensor.Of(tensor.Float32))
		}
	}
	return nil
}
