package captions

import (
	"fmt"
	"strings"

	"github.com/clockwork-go/clockwork/textenc"
)

// Size is a digit's size: the height of its ink. The zero value, AnySize,
// is "not constrained" in a Prompt and invalid in Attrs.
type Size int8

// The sizes.
const (
	AnySize Size = iota
	Small
	Large
)

var sizeWords = [...]string{AnySize: "any", Small: "small", Large: "large"}

// String returns the caption word of the size ("small", "large"), or "any".
func (s Size) String() string {
	if s >= 0 && int(s) < len(sizeWords) {
		return sizeWords[s]
	}
	return fmt.Sprintf("Size(%d)", s)
}

// Stroke is the thickness of a digit's strokes. The zero value, AnyStroke,
// is "not constrained" in a Prompt and invalid in Attrs.
type Stroke int8

// The stroke thicknesses.
const (
	AnyStroke Stroke = iota
	Thin
	Normal
	Thick
)

var strokeWords = [...]string{AnyStroke: "any", Thin: "thin", Normal: "normal", Thick: "thick"}

// String returns the caption word of the stroke ("thin", "normal",
// "thick"), or "any".
func (s Stroke) String() string {
	if s >= 0 && int(s) < len(strokeWords) {
		return strokeWords[s]
	}
	return fmt.Sprintf("Stroke(%d)", s)
}

// HPos is the column a digit's centre of mass lies in. The zero value,
// AnyH, is "not constrained" in a Prompt and invalid in Attrs.
type HPos int8

// The columns.
const (
	AnyH HPos = iota
	Left
	Centre
	Right
)

var hWords = [...]string{AnyH: "any", Left: "left", Centre: "centre", Right: "right"}

// String returns the caption word of the column ("left", "centre",
// "right"), or "any".
func (h HPos) String() string {
	if h >= 0 && int(h) < len(hWords) {
		return hWords[h]
	}
	return fmt.Sprintf("HPos(%d)", h)
}

// VPos is the row a digit's centre of mass lies in. The zero value, AnyV,
// is "not constrained" in a Prompt and invalid in Attrs.
type VPos int8

// The rows.
const (
	AnyV VPos = iota
	Top
	Middle
	Bottom
)

var vWords = [...]string{AnyV: "any", Top: "top", Middle: "middle", Bottom: "bottom"}

// String returns the caption word of the row ("top", "middle", "bottom"),
// or "any".
func (v VPos) String() string {
	if v >= 0 && int(v) < len(vWords) {
		return vWords[v]
	}
	return fmt.Sprintf("VPos(%d)", v)
}

// Attrs are the attributes of an image: all of them set.
type Attrs struct {
	Digit  int // 0 to 9
	Size   Size
	Stroke Stroke
	H      HPos
	V      VPos
}

// Valid checks that the digit is in [0, 9] and every other attribute holds
// a value (none is Any).
func (a Attrs) Valid() error {
	if err := Prompt(a).Valid(); err != nil {
		return err
	}
	if a.Size == AnySize || a.Stroke == AnyStroke || a.H == AnyH || a.V == AnyV {
		return fmt.Errorf("captions: attributes %+v leave some unset", a)
	}
	return nil
}

// String returns the caption that names every attribute: "a thin small
// seven in the top left".
func (a Attrs) String() string { return Prompt(a).String() }

// Prompt is what a caption asks for: always a digit, and a size, stroke,
// column and row unless they are Any. An Attrs converts to the Prompt that
// names all of it: Prompt(a).
type Prompt struct {
	Digit  int // 0 to 9
	Size   Size
	Stroke Stroke
	H      HPos
	V      VPos
}

// Valid checks that the digit is in [0, 9] and each attribute is a known
// value or Any.
func (p Prompt) Valid() error {
	switch {
	case p.Digit < 0 || p.Digit > 9:
		return fmt.Errorf("captions: digit %d is not in [0, 9]", p.Digit)
	case p.Size < AnySize || p.Size > Large:
		return fmt.Errorf("captions: unknown size %d", p.Size)
	case p.Stroke < AnyStroke || p.Stroke > Thick:
		return fmt.Errorf("captions: unknown stroke %d", p.Stroke)
	case p.H < AnyH || p.H > Right:
		return fmt.Errorf("captions: unknown column %d", p.H)
	case p.V < AnyV || p.V > Bottom:
		return fmt.Errorf("captions: unknown row %d", p.V)
	}
	return nil
}

// Named returns how many attributes the prompt names (the digit and those
// not Any: 1 to 5).
func (p Prompt) Named() int {
	n := 1
	for _, unset := range []bool{p.Size == AnySize, p.Stroke == AnyStroke, p.H == AnyH, p.V == AnyV} {
		if !unset {
			n++
		}
	}
	return n
}

// Satisfied returns how many of the prompt's named attributes a has.
func (p Prompt) Satisfied(a Attrs) int {
	n := 0
	for _, ok := range []bool{p.Digit == a.Digit, p.Size != AnySize && p.Size == a.Size, p.Stroke != AnyStroke && p.Stroke == a.Stroke, p.H != AnyH && p.H == a.H, p.V != AnyV && p.V == a.V} {
		if ok {
			n++
		}
	}
	return n
}

// String returns the canonical caption of the prompt, with the digit as a
// word: "a seven", "a thick small seven in the top left". Parse reads it
// back to p.
func (p Prompt) String() string { return p.caption(false) }

// caption renders the prompt with the digit as a word or a numeral.
func (p Prompt) caption(numeral bool) string {
	if p.Valid() != nil {
		return fmt.Sprintf("Prompt%+v", struct {
			Digit  int
			Size   Size
			Stroke Stroke
			H      HPos
			V      VPos
		}(p))
	}
	w := []string{"a"}
	if p.Stroke != AnyStroke {
		w = append(w, p.Stroke.String())
	}
	if p.Size != AnySize {
		w = append(w, p.Size.String())
	}
	if numeral {
		w = append(w, numerals[p.Digit])
	} else {
		w = append(w, digitWords[p.Digit])
	}
	if ph := position(p.H, p.V); ph != "" {
		w = append(w, ph)
	}
	return strings.Join(w, " ")
}

var (
	digitWords = [10]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	numerals   = [10]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
)

// position returns the position phrase of a column and a row (either may be
// Any), "" when both are.
func position(h HPos, v VPos) string {
	switch {
	case h == AnyH && v == AnyV:
		return ""
	case v == AnyV:
		return map[HPos]string{Left: "on the left", Centre: "in the centre column", Right: "on the right"}[h]
	case h == AnyH:
		return map[VPos]string{Top: "at the top", Middle: "in the middle row", Bottom: "at the bottom"}[v]
	case h == Centre && v == Middle:
		return "in the centre"
	}
	return "in the " + v.String() + " " + h.String()
}

type place struct {
	h HPos
	v VPos
}

// The lookup tables of Parse.
var (
	strokeByWord = map[string]Stroke{}
	sizeByWord   = map[string]Size{}
	digitByWord  = map[string]int{}
	placeByWords = map[string]place{}
	vocabulary   []string
	inVocabulary = map[string]bool{}
)

func init() {
	for s := Thin; s <= Thick; s++ {
		strokeByWord[s.String()] = s
	}
	for s := Small; s <= Large; s++ {
		sizeByWord[s.String()] = s
	}
	for d := range 10 {
		digitByWord[digitWords[d]] = d
		digitByWord[numerals[d]] = d
	}
	for h := AnyH; h <= Right; h++ {
		for v := AnyV; v <= Bottom; v++ {
			if ph := position(h, v); ph != "" {
				placeByWords[ph] = place{h, v}
			}
		}
	}
	vocabulary = append(vocabulary, "a")
	for s := Thin; s <= Thick; s++ {
		vocabulary = append(vocabulary, s.String())
	}
	for s := Small; s <= Large; s++ {
		vocabulary = append(vocabulary, s.String())
	}
	vocabulary = append(vocabulary, digitWords[:]...)
	vocabulary = append(vocabulary, numerals[:]...)
	vocabulary = append(vocabulary, "on", "at", "in", "the")
	for h := Left; h <= Right; h++ {
		vocabulary = append(vocabulary, h.String())
	}
	for v := Top; v <= Bottom; v++ {
		vocabulary = append(vocabulary, v.String())
	}
	vocabulary = append(vocabulary, "column", "row")
	for _, w := range vocabulary {
		inVocabulary[w] = true
	}
}

// Vocabulary returns every word the grammar produces, in grammar order
// (always the same list): the article, the stroke and size words, the
// digit words, the numerals and the words of the position phrases. It is
// the word list for textenc.NewTokenizer.
func Vocabulary() []string { return append([]string(nil), vocabulary...) }

// Parse returns the attributes a caption asks for. It reads the caption as
// the tokenizer does (textenc.Words: lower-cased, split at spaces and
// punctuation), so "A Seven." parses as "a seven". An unknown word, a
// caption out of the grammar's order or a missing digit is an error naming
// the caption and the word; so is the empty caption (the unconditional
// input), which asks for nothing.
func Parse(caption string) (Prompt, error) {
	words := textenc.Words(caption)
	if len(words) == 0 {
		return Prompt{}, fmt.Errorf("captions: the empty caption %q names no digit (it is the unconditional input, not a prompt)", caption)
	}
	for _, w := range words {
		if !inVocabulary[w] {
			return Prompt{}, fmt.Errorf("captions: caption %q: unknown word %q", caption, w)
		}
	}
	if words[0] != "a" {
		return Prompt{}, fmt.Errorf("captions: caption %q starts with %q, not \"a\"", caption, words[0])
	}
	var p Prompt
	i := 1
	if i < len(words) {
		if s, ok := strokeByWord[words[i]]; ok {
			p.Stroke = s
			i++
		}
	}
	if i < len(words) {
		if s, ok := sizeByWord[words[i]]; ok {
			p.Size = s
			i++
		}
	}
	if i == len(words) {
		return Prompt{}, fmt.Errorf("captions: caption %q names no digit", caption)
	}
	d, ok := digitByWord[words[i]]
	if !ok {
		return Prompt{}, fmt.Errorf("captions: caption %q: %q after %q where a digit (or, before it, a stroke then a size) was expected", caption, words[i], strings.Join(words[:i], " "))
	}
	p.Digit = d
	if rest := words[i+1:]; len(rest) > 0 {
		pl, ok := placeByWords[strings.Join(rest, " ")]
		if !ok {
			return Prompt{}, fmt.Errorf("captions: caption %q: %q after the digit is not a position phrase (\"on the left\", \"at the top\", \"in the top left\", \"in the centre\" …)", caption, strings.Join(rest, " "))
		}
		p.H, p.V = pl.h, pl.v
	}
	return p, nil
}
