package edits_test

import (
	"fmt"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/edits"
)

// An instruction names one or two changes; Apply gives the attributes of
// the true edit.
func ExampleParse() {
	in, err := edits.Parse("move it to the left and make it thicker")
	if err != nil {
		panic(err)
	}
	a := captions.Attrs{Digit: 7, Size: captions.Small, Stroke: captions.Normal, H: captions.Centre, V: captions.Top}
	after, angle := in.Apply(a)
	fmt.Println(in)
	fmt.Println(in.Applies(a), after, angle)
	fmt.Println(in.HeldOut())
	// Output:
	// make it thicker and move it to the left
	// true a thick small seven in the top left 0
	// false
}

// The held-out split's pairs: a source, an instruction, the true edit.
func ExampleOpenSplit() {
	set, err := edits.OpenSplit("test", 3)
	if err != nil {
		panic(err)
	}
	for i := range set.Len() {
		fmt.Printf("%s → %q → %s\n", set.Before[i], set.Phrases()[i], set.After[i])
	}
	// Output:
	// a thick small nine in the centre → "make it thinner and rotate it a little right" → a normal small nine in the centre
	// a normal large eight in the bottom right → "make it smaller and rotate it a little left" → a normal small eight in the bottom right
	// a normal small six in the centre → "make it bigger and rotate it a little right" → a normal large six in the centre
}

// A chained edit (Options.Chain) runs an instruction's clauses one after
// another, each drawing its noise from its own seed.
func ExampleClauses() {
	c, err := edits.Clauses("make it thicker and move it to the left")
	if err != nil {
		panic(err)
	}
	for r, clause := range c {
		fmt.Printf("clause %d: %q, seed %d\n", r+1, clause, edits.ChainSeed(7, r))
	}
	// Output:
	// clause 1: "make it thicker", seed 7
	// clause 2: "move it to the left", seed 7191089600892374487
}
