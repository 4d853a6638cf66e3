package edits

import (
	"fmt"
	"strings"

	"github.com/clockwork-go/clockwork/captions"
)

// Attribute is what an instruction changes: one of the captioned digits'
// attributes, or its rotation.
type Attribute int8

// The attributes an instruction can change, in the order a canonical
// instruction names them.
const (
	Stroke Attribute = iota
	Size
	Column
	Row
	Rotation
	numAttrs
)

var attrNames = [...]string{Stroke: "stroke", Size: "size", Column: "column", Row: "row", Rotation: "rotation"}

// String names the attribute.
func (a Attribute) String() string {
	if a >= 0 && a < numAttrs {
		return attrNames[a]
	}
	return fmt.Sprintf("Attribute(%d)", a)
}

// Attributes lists the attributes an instruction can change.
func Attributes() []Attribute { return []Attribute{Stroke, Size, Column, Row, Rotation} }

// Angle is the rotation of "rotate it a little left" in degrees,
// counter-clockwise as seen ("a little right" is −Angle).
const Angle = 15.0

// phrases are the instruction phrases of each attribute's change:
// [attribute][0] for −1, [attribute][1] for +1. Column −1 is to the left,
// Row −1 up, Rotation +1 counter-clockwise (to the left).
var phrases = [numAttrs][2]string{
	Stroke:   {"make it thinner", "make it thicker"},
	Size:     {"make it smaller", "make it bigger"},
	Column:   {"move it to the left", "move it to the right"},
	Row:      {"move it up", "move it down"},
	Rotation: {"rotate it a little right", "rotate it a little left"},
}

// Instruction is an edit: for each attribute, −1, 0 (kept) or +1, one or
// two of them not 0. Stroke +1 is one step thicker (thin to normal, normal
// to thick), Size +1 small to large, Column +1 one column to the right,
// Row +1 one row down, Rotation +1 a rotation by Angle counter-clockwise
// (the digit's source is never rotated).
type Instruction [numAttrs]int8

// Changes returns the attributes the instruction changes, in order.
func (in Instruction) Changes() []Attribute {
	var out []Attribute
	for a, d := range in {
		if d != 0 {
			out = append(out, Attribute(a))
		}
	}
	return out
}

// Valid reports an instruction that changes no attribute or more than two,
// or an attribute by other than ±1.
func (in Instruction) Valid() error {
	n := 0
	for a, d := range in {
		switch d {
		case 0:
		case -1, 1:
			n++
		default:
			return fmt.Errorf("edits: instruction changes the %s by %d: want −1, 0 or +1", Attribute(a), d)
		}
	}
	if n < 1 || n > 2 {
		return fmt.Errorf("edits: instruction changes %d attributes: want one or two", n)
	}
	return nil
}

// String returns the canonical phrase: the changes in attribute order,
// joined by "and" ("make it thicker and move it to the left").
func (in Instruction) String() string {
	var parts []string
	for _, a := range in.Changes() {
		parts = append(parts, phrase(a, in[a]))
	}
	return strings.Join(parts, " and ")
}

// Phrase returns the instruction's phrase with its two changes in the
// other order when swap is set (what the generator draws half the time,
// so that a model learns both orders).
func (in Instruction) Phrase(swap bool) string {
	ch := in.Changes()
	if !swap || len(ch) != 2 {
		return in.String()
	}
	return phrase(ch[1], in[ch[1]]) + " and " + phrase(ch[0], in[ch[0]])
}

func phrase(a Attribute, d int8) string {
	if d < 0 {
		return phrases[a][0]
	}
	return phrases[a][1]
}

// Parse reads an instruction: one phrase, or two joined by "and", in
// either order. An unknown phrase, two changes of one attribute or more
// than two changes are errors naming them.
func Parse(s string) (Instruction, error) {
	var in Instruction
	words := strings.Fields(strings.ToLower(s))
	if len(words) == 0 {
		return in, fmt.Errorf("edits: an empty instruction")
	}
	parts := strings.Split(strings.Join(words, " "), " and ")
	if len(parts) > 2 {
		return in, fmt.Errorf("edits: instruction %q: %d changes; an instruction makes one or two", s, len(parts))
	}
	for _, p := range parts {
		a, d, ok := lookup(p)
		if !ok {
			return in, fmt.Errorf("edits: instruction %q: %q is not an edit this data set knows (%s)", s, p, strings.Join(Phrases(), "; "))
		}
		if in[a] != 0 {
			return in, fmt.Errorf("edits: instruction %q changes the %s twice", s, a)
		}
		in[a] = d
	}
	return in, nil
}

func lookup(p string) (Attribute, int8, bool) {
	for a := range numAttrs {
		for k, q := range phrases[a] {
			if p == q {
				return a, int8(2*k - 1), true
			}
		}
	}
	return 0, 0, false
}

// Phrases lists the one-change phrases.
func Phrases() []string {
	var out []string
	for a := range numAttrs {
		out = append(out, phrases[a][1], phrases[a][0])
	}
	return out
}

// Vocabulary lists the words of every instruction (for textenc.NewTokenizer).
func Vocabulary() []string {
	seen := map[string]bool{"and": true}
	out := []string{"and"}
	for _, p := range Phrases() {
		for _, w := range strings.Fields(p) {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	return out
}

// Applies reports whether the instruction can be carried out on a digit
// with attributes a: a thick digit cannot be made thicker, a large one
// bigger, one in the left column moved to the left, and so on. A rotation
// always applies.
func (in Instruction) Applies(a captions.Attrs) bool {
	ok := func(v, lo, hi int8, d int8) bool { return d == 0 || (v+d >= lo && v+d <= hi) }
	return ok(int8(a.Stroke), int8(captions.Thin), int8(captions.Thick), in[Stroke]) &&
		ok(int8(a.Size), int8(captions.Small), int8(captions.Large), in[Size]) &&
		ok(int8(a.H), int8(captions.Left), int8(captions.Right), in[Column]) &&
		ok(int8(a.V), int8(captions.Top), int8(captions.Bottom), in[Row])
}

// Apply returns the attributes and the rotation (degrees) of the edited
// digit; the instruction must apply (Applies).
func (in Instruction) Apply(a captions.Attrs) (captions.Attrs, float64) {
	a.Stroke += captions.Stroke(in[Stroke])
	a.Size += captions.Size(in[Size])
	a.H += captions.HPos(in[Column])
	a.V += captions.VPos(in[Row])
	return a, Angle * float64(in[Rotation])
}

// All lists every instruction: the ten one-change ones, then the forty
// two-change ones, in a fixed order.
func All() []Instruction {
	var out []Instruction
	for a := range numAttrs {
		for _, d := range []int8{1, -1} {
			var in Instruction
			in[a] = d
			out = append(out, in)
		}
	}
	for a := range numAttrs {
		for b := a + 1; b < numAttrs; b++ {
			for _, da := range []int8{1, -1} {
				for _, db := range []int8{1, -1} {
					var in Instruction
					in[a], in[b] = da, db
					out = append(out, in)
				}
			}
		}
	}
	return out
}

// HeldOut reports whether an instruction is held out of training: of each
// pair of attributes, one of the four two-change instructions (ten in
// all), so that a model is tested on combinations of changes it has seen
// only apart. Pair k (in All's order, 0 to 9) holds out the changes
// (+1 if k is even, else −1) and (+1 if k mod 4 < 2, else −1).
func (in Instruction) HeldOut() bool {
	ch := in.Changes()
	if len(ch) != 2 {
		return false
	}
	k := 0
	for a := range numAttrs {
		for b := a + 1; b < numAttrs; b++ {
			if a == ch[0] && b == ch[1] {
				da, db := int8(1), int8(1)
				if k%2 == 1 {
					da = -1
				}
				if k%4 >= 2 {
					db = -1
				}
				return in[a] == da && in[b] == db
			}
			k++
		}
	}
	return false
}
