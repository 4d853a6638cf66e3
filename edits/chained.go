package edits

import (
	"cmp"
	"fmt"
	"math"
	"strings"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/npzio"
)

// ChainedData begins the argument of the data spec "edits:chained:FILE":
// the train split's pairs, and after them one more pair for each pair of
// FILE (WriteChained): an editor's own edit by a two-change instruction's
// first clause as the source, the instruction's second clause as the
// caption and the pair's true edit as the target. A chained edit
// (Options.Chain) gives its second clause the editor's output, not the
// true intermediate the train split's sources are; these pairs train the
// editor on what it is then given (the mismatch scheduled sampling
// (Bengio et al., NeurIPS 2015) trains a sequence model on).
const ChainedData = "chained:"

// TwoClausePairs returns the indices of the pairs among the first n of set
// whose instruction has two clauses: those a chained edit edits twice.
func TwoClausePairs(set *Set, n int) ([]int, error) {
	var pairs []int
	for i, p := range set.Phrases()[:min(n, set.Len())] {
		c, err := Clauses(p)
		if err != nil {
			return nil, fmt.Errorf("pair %d: %w", i, err)
		}
		if len(c) == 2 {
			pairs = append(pairs, i)
		}
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("none of the first %d pairs has a two-clause instruction", n)
	}
	return pairs, nil
}

// FirstClauses edits, with e under o (one edit per pair: o.Chain is
// ignored; the U-Net run as e.Base when set, as Edit runs it), the source of each of the pairs of set (TwoClausePairs) by
// its instruction's first clause, pair j from noise stream j of o.Seed:
// the intermediate a chained edit of the pairs up to the last gives its
// second clause. It returns the edits (1×32×32 each, in [−1, 1] as the
// model gives them); progress counts them.
func (e *Editor) FirstClauses(set *Set, pairs []int, o Options, progress func(int)) ([]float32, error) {
	oo := o
	oo.Chain = false
	if err := oo.Check(); err != nil {
		return nil, err
	}
	per := set.Data.C * set.Data.H * set.Data.W
	src := make([]float32, len(pairs)*per)
	first := make([]string, len(pairs))
	for k, i := range pairs {
		if i < 0 || i >= set.Len() {
			return nil, fmt.Errorf("pair %d of a set of %d", i, set.Len())
		}
		c, err := Clauses(set.Phrases()[i])
		if err != nil || len(c) != 2 {
			return nil, fmt.Errorf("pair %d (%q) is not a two-clause instruction", i, set.Phrases()[i])
		}
		first[k] = c[0]
		set.Sources().Image(i, src[k*per:(k+1)*per])
	}
	return e.edit(e.base(), src, len(pairs), first, oo, pairs, progress)
}

// WriteChained writes the first-clause edits of FirstClauses to path, an
// .npz of "pairs" (the train split's pair indices, K) and "sources"
// (K×1×32×32 float32): what "edits:chained:path" trains on.
func WriteChained(path string, pairs []int, sources []float32) error {
	const per = 32 * 32
	if len(sources) != len(pairs)*per {
		return fmt.Errorf("%d source values for %d pairs of 1×32×32", len(sources), len(pairs))
	}
	idx := make([]int64, len(pairs))
	for k, i := range pairs {
		idx[k] = int64(i)
	}
	return npzio.Write(path, []string{"pairs", "sources"}, map[string]npzio.Array{
		"pairs":   npzio.Int64(idx, len(pairs)),
		"sources": npzio.Float32(sources, len(pairs), 1, 32, 32),
	})
}

// openChained opens "edits:chained:path" for split: the train split's
// first n pairs (n ≤ 0: all 60,000) followed by path's chained pairs
// (ChainedData); another split is the plain one (what a trainer measures
// on).
func openChained(path, split string, n int) (*datasets.Images, error) {
	if path == "" {
		return nil, fmt.Errorf("edits:%s: no file", ChainedData)
	}
	if split != "train" {
		s, err := OpenSplit(split, 0)
		if err != nil {
			return nil, err
		}
		return s.Data, nil
	}
	a, err := npzio.Read(path)
	if err != nil {
		return nil, fmt.Errorf("chained pairs: %w", err)
	}
	pa, ok1 := a["pairs"]
	sa, ok2 := a["sources"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("chained pairs %s: want arrays pairs and sources (edit -chain-data writes them)", path)
	}
	if pa.I64 == nil || sa.F32 == nil {
		return nil, fmt.Errorf("chained pairs %s: pairs is %s and sources %s, want int64 and float32", path, pa.Dtype(), sa.Dtype())
	}
	k := len(pa.I64)
	const side = 32
	per := side * side
	if len(sa.Shape) != 4 || sa.Shape[0] != k || sa.Shape[1] != 1 || sa.Shape[2] != side || sa.Shape[3] != side {
		return nil, fmt.Errorf("chained pairs %s: sources of shape %v for %d pairs, want (%d, 1, %d, %d)", path, sa.Shape, k, k, side, side)
	}
	s, err := OpenSplit("train", cmp.Or(max(n, 0), TrainPairs))
	if err != nil {
		return nil, err
	}
	n = s.Len()
	d := s.Data
	out := &datasets.Images{Name: d.Name + "-chained", C: 1, H: side, W: side, Classes: d.Classes,
		U8:       append(append(make([]uint8, 0, (n+k)*per), d.U8...), make([]uint8, k*per)...),
		Labels:   append(append(make([]int64, 0, n+k), d.Labels...), make([]int64, k)...),
		Captions: append(append(make([]string, 0, n+k), d.Captions...), make([]string, k)...)}
	in := &datasets.Images{Name: out.Name + "-sources", C: 1, H: side, W: side, Classes: d.Classes,
		U8: append(append(make([]uint8, 0, (n+k)*per), d.Inputs.U8...), make([]uint8, k*per)...)}
	for j, p := range pa.I64 {
		if p < 0 || p >= int64(n) {
			return nil, fmt.Errorf("chained pairs %s: pair %d is %d, outside the train split's [0, %d)", path, j, p, n)
		}
		i := int(p)
		c, err := Clauses(d.Captions[i])
		if err != nil || len(c) != 2 {
			return nil, fmt.Errorf("chained pairs %s: pair %d (%d, %q) is not a two-clause instruction", path, j, i, d.Captions[i])
		}
		at := n + j
		copy(out.U8[at*per:(at+1)*per], d.U8[i*per:(i+1)*per])
		out.Labels[at] = d.Labels[i]
		out.Captions[at] = c[1]
		for q, v := range sa.F32[j*per : (j+1)*per] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("chained pairs %s: source %d holds %v", path, j, v)
			}
			in.U8[at*per+q] = uint8(math.Round(float64(min(max(v, -1), 1)+1) * 127.5))
		}
	}
	out.Inputs = in
	return out, nil
}

// chainedArg reports whether a data spec's argument is ChainedData's and
// returns its file.
func chainedArg(arg string) (string, bool) { return strings.CutPrefix(arg, ChainedData) }
