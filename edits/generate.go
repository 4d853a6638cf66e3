package edits

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
)

// Mix says which instructions a set draws.
type Mix int8

// The mixes of instructions.
const (
	// TrainMix draws a one-change instruction half the time and a
	// two-change one that is not held out (HeldOut) the other half.
	TrainMix Mix = iota
	// TestMix draws, a third of the time each, a one-change instruction, a
	// two-change one seen in training and a held-out one.
	TestMix
	// ClauseMix draws one-change instructions only: the clauses a chained
	// edit (Options.Chain) makes one at a time, for an editor fine-tuned
	// to what the chain asks of it.
	ClauseMix
)

// Set is an edit data set: pairs of a source image and its true edit
// under an instruction, with what each was drawn with.
type Set struct {
	// Data holds the targets (the true edits, 1×32×32 bytes, labelled
	// with their digits), their instructions as Captions (the phrase as
	// drawn: a two-change instruction names its changes in either order)
	// and the sources as Inputs: what an editor trains on.
	Data         *datasets.Images
	Instructions []Instruction
	// Before and After are the source's and the target's attributes;
	// Angles the target's rotation in degrees (the source's is 0).
	Before, After []captions.Attrs
	Angles        []float64
}

// Len returns the number of pairs.
func (s *Set) Len() int { return len(s.Instructions) }

// Sources returns the source images.
func (s *Set) Sources() *datasets.Images { return s.Data.Inputs }

// Subset returns the first n pairs (a view sharing storage).
func (s *Set) Subset(n int) *Set {
	n = max(min(n, s.Len()), 0)
	return &Set{Data: s.Data.Subset(n), Instructions: s.Instructions[:n], Before: s.Before[:n], After: s.After[:n], Angles: s.Angles[:n]}
}

// Phrases returns the phrases of the pairs' instructions, as drawn.
func (s *Set) Phrases() []string { return s.Data.Captions }

// Open generates n edit pairs from MNIST's "train" or "test" split
// (datasets.MNIST from the module cache) with seed and mix.
func Open(split string, n int, seed uint64, mix Mix) (*Set, error) {
	if n <= 0 {
		return nil, fmt.Errorf("edits: %d pairs: the number must be positive", n)
	}
	src, err := datasets.MNIST(split, "", false)
	if err != nil {
		return nil, err
	}
	return Generate(src, n, seed, mix)
}

// Generate draws n edit pairs from src (labelled 1×28×28 MNIST-like
// digits, as captions.Generate takes). Pair i draws, from a generator
// seeded with (seed, i) alone, a layout as captions.Generate does (size,
// stroke, column, row, jitter), an instruction of the mix among those
// that apply to it, and a source digit that fits the canvas both before
// and after; the source is that digit drawn with the layout, the target
// the same digit with the same jitter and the instruction's attributes
// and rotation. So the first m pairs of n are the set of m, and the target
// differs from the source by exactly the instruction.
func Generate(src *datasets.Images, n int, seed uint64, mix Mix) (*Set, error) {
	if n <= 0 {
		return nil, fmt.Errorf("edits: %d pairs: the number must be positive", n)
	}
	if mix != TrainMix && mix != TestMix && mix != ClauseMix {
		return nil, fmt.Errorf("edits: unknown instruction mix %d", mix)
	}
	d, err := captions.NewDrawer(src)
	if err != nil {
		return nil, err
	}
	const side = captions.Side
	name := "edits-" + strings.TrimPrefix(src.Name, "mnist-")
	if mix == ClauseMix {
		name += "-clauses" // what a training log names
	}
	img := func(name string) *datasets.Images {
		return &datasets.Images{Name: name, C: 1, H: side, W: side, U8: make([]uint8, n*side*side), Labels: make([]int64, n), Classes: 10}
	}
	s := &Set{
		Data:         img(name),
		Instructions: make([]Instruction, n),
		Before:       make([]captions.Attrs, n),
		After:        make([]captions.Attrs, n),
		Angles:       make([]float64, n),
	}
	s.Data.Inputs = img(name + "-sources")
	s.Data.Captions = make([]string, n)
	groups := instructionGroups(mix)
	for i := range n {
		if err := s.draw(d, groups, i, seed); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// instructionGroups returns the groups a mix draws from, each with equal
// probability.
func instructionGroups(mix Mix) [][]Instruction {
	var one, seen, held []Instruction
	for _, in := range All() {
		switch {
		case len(in.Changes()) == 1:
			one = append(one, in)
		case in.HeldOut():
			held = append(held, in)
		default:
			seen = append(seen, in)
		}
	}
	switch mix {
	case TestMix:
		return [][]Instruction{one, seen, held}
	case ClauseMix:
		return [][]Instruction{one}
	}
	return [][]Instruction{one, seen}
}

// draw makes pair i.
func (s *Set) draw(d *captions.Drawer, groups [][]Instruction, i int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, uint64(i)^0x6564697473)) // "edits"
	const side = captions.Side
	const tries = 100
	var (
		dr, to captions.Drawing
		in     Instruction
	)
	group := groups[rng.IntN(len(groups))]
	for t := 0; ; t++ {
		if t == tries {
			return fmt.Errorf("edits: pair %d: %d layouts in a row admit no instruction of its group", i, tries)
		}
		dr = captions.DrawLayout(rng)
		var ok []Instruction
		for _, c := range group {
			if c.Applies(dr.Attrs) {
				ok = append(ok, c)
			}
		}
		if len(ok) > 0 {
			in = ok[rng.IntN(len(ok))]
			break
		}
	}
	swap := rng.IntN(2) == 1
	to = dr
	to.Attrs, to.Angle = in.Apply(dr.Attrs)
	srcImg := s.Data.Inputs.U8[i*side*side : (i+1)*side*side]
	dstImg := s.Data.U8[i*side*side : (i+1)*side*side]
	for t := 0; ; t++ {
		if t == tries {
			return fmt.Errorf("edits: pair %d: %d source digits in a row do not fit %v and %v", i, tries, dr.Attrs, to.Attrs)
		}
		dr.Source = rng.IntN(d.Sources())
		to.Source = dr.Source
		ok, err := d.Draw(dr, srcImg)
		if err != nil {
			return fmt.Errorf("edits: pair %d: %w", i, err)
		}
		if !ok {
			continue
		}
		if ok, err = d.Draw(to, dstImg); err != nil {
			return fmt.Errorf("edits: pair %d: %w", i, err)
		} else if ok {
			break
		}
	}
	digit := d.Label(dr.Source)
	dr.Attrs.Digit, to.Attrs.Digit = digit, digit
	s.Instructions[i] = in
	s.Before[i], s.After[i], s.Angles[i] = dr.Attrs, to.Attrs, to.Angle
	s.Data.Captions[i] = in.Phrase(swap)
	s.Data.Labels[i] = int64(digit)
	s.Data.Inputs.Labels[i] = int64(digit)
	return nil
}
