package captions

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/textenc"
)

// allPrompts returns every prompt the grammar can express.
func allPrompts() []Prompt {
	var out []Prompt
	for d := range 10 {
		for sz := AnySize; sz <= Large; sz++ {
			for st := AnyStroke; st <= Thick; st++ {
				for h := AnyH; h <= Right; h++ {
					for v := AnyV; v <= Bottom; v++ {
						out = append(out, Prompt{Digit: d, Size: sz, Stroke: st, H: h, V: v})
					}
				}
			}
		}
	}
	return out
}

func TestGrammarRoundTrip(t *testing.T) {
	seen := map[string]Prompt{}
	for _, p := range allPrompts() {
		for _, numeral := range []bool{false, true} {
			c := p.caption(numeral)
			q, err := Parse(c)
			if err != nil {
				t.Fatalf("Parse(%q): %v", c, err)
			}
			if q != p {
				t.Fatalf("Parse(%q) = %+v, want %+v", c, q, p)
			}
			if o, ok := seen[c]; ok {
				t.Fatalf("caption %q renders both %+v and %+v", c, o, p)
			}
			seen[c] = p
		}
		if p.String() != p.caption(false) {
			t.Fatalf("String of %+v is not the word form", p)
		}
	}
	// The tokenizer's reading: case and punctuation do not matter.
	p, err := Parse("A Thick, SMALL 7 -- in the top left!")
	if err != nil || p != (Prompt{Digit: 7, Size: Small, Stroke: Thick, H: Left, V: Top}) {
		t.Fatalf("Parse with case and punctuation = %+v, %v", p, err)
	}
	if s := (Prompt{Digit: 7, Size: Small, Stroke: Thick, H: Left, V: Top}).String(); s != "a thick small seven in the top left" {
		t.Errorf("String = %q", s)
	}
	if s := (Attrs{Digit: 3, Size: Large, Stroke: Normal, H: Centre, V: Middle}).String(); s != "a normal large three in the centre" {
		t.Errorf("Attrs.String = %q", s)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ caption, want string }{
		{"", "empty caption"},
		{"  ...  ", "empty caption"},
		{"a purple seven", `unknown word "purple"`},
		{"the seven", `starts with "the"`},
		{"a small", "names no digit"},
		{"a", "names no digit"},
		{"a small thick seven", `"thick" after "a small"`},
		{"a seven seven", `"seven" after the digit`},
		{"a seven on the top", `"on the top" after the digit`},
		{"a seven in the middle centre", `"in the middle centre"`},
		{"a seven left", `"left" after the digit`},
		{"a 12", `unknown word "12"`},
		{"seven", `starts with "seven"`},
	} {
		_, err := Parse(c.caption)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %s", c.caption, err, c.want)
		}
	}
}

func TestVocabulary(t *testing.T) {
	v := Vocabulary()
	if !slices.Equal(v, Vocabulary()) {
		t.Fatal("Vocabulary is not stable")
	}
	v[0] = "changed"
	if Vocabulary()[0] != "a" {
		t.Fatal("Vocabulary shares its storage")
	}
	v = Vocabulary()
	tok, err := textenc.NewTokenizer(v) // refuses duplicates and non-words
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var caps []string
	for _, p := range allPrompts() {
		for _, numeral := range []bool{false, true} {
			c := p.caption(numeral)
			caps = append(caps, c)
			for _, w := range textenc.Words(c) {
				used[w] = true
			}
		}
	}
	for w := range used {
		if !slices.Contains(v, w) {
			t.Errorf("caption word %q is not in the vocabulary", w)
		}
	}
	for _, w := range v {
		if !used[w] {
			t.Errorf("vocabulary word %q is in no caption", w)
		}
	}
	if _, _, err := tok.Encode(caps, 12); err != nil {
		t.Fatalf("tokenizer: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a 7", "a thick small seven in the top left", "a seven on the left", "a normal large 0 in the middle row", "", "a a", "in the centre", "a thin 9 at the bottom"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		if err := p.Valid(); err != nil {
			t.Fatalf("Parse(%q) = invalid %+v: %v", s, p, err)
		}
		q, err := Parse(p.String())
		if err != nil || q != p {
			t.Fatalf("Parse(%q) = %+v, but its String %q parses to %+v, %v", s, p, p.String(), q, err)
		}
	})
}

func TestPromptValid(t *testing.T) {
	for _, p := range []Prompt{{Digit: -1}, {Digit: 10}, {Size: 3}, {Stroke: -1}, {H: 4}, {V: 9}} {
		if p.Valid() == nil {
			t.Errorf("%+v is valid", p)
		}
	}
	if (Attrs{Digit: 1, Size: Small, Stroke: Thin, H: Left}).Valid() == nil {
		t.Error("attributes with no row are valid")
	}
	p := Prompt{Digit: 4, Size: Large, H: Right}
	a := Attrs{Digit: 4, Size: Small, Stroke: Thick, H: Right, V: Top}
	if p.Named() != 3 || p.Satisfied(a) != 2 {
		t.Errorf("%v names %d and %v satisfies %d, want 3 and 2", p, p.Named(), a, p.Satisfied(a))
	}
}

var (
	mnistOnce sync.Once
	mnist     *datasets.Images
	mnistErr  error
)

// source returns MNIST's training digits, unpadded.
func source(t testing.TB) *datasets.Images {
	mnistOnce.Do(func() { mnist, mnistErr = datasets.MNIST("train", "", false) })
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	return mnist
}

func TestGenerate(t *testing.T) {
	src := source(t)
	a, err := Generate(src, 300, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(src, 300, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Images.U8, b.Images.U8) || !slices.Equal(a.Captions, b.Captions) || !slices.Equal(a.Attrs, b.Attrs) {
		t.Fatal("the same seed gave different sets")
	}
	short, err := Generate(src, 40, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(short.Images.U8, a.Images.U8[:40*Side*Side]) || !slices.Equal(short.Captions, a.Captions[:40]) {
		t.Fatal("the first 40 images depend on the number generated")
	}
	other, err := Generate(src, 300, 4)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other.Images.U8, a.Images.U8) {
		t.Fatal("another seed gave the same images")
	}
	d := a.Images
	if d.Name != "captions-train" || d.C != 1 || d.H != Side || d.W != Side || d.Pad != 0 || d.Classes != 10 || d.Len() != 300 {
		t.Fatalf("images %s %d×%d×%d pad %d classes %d, %d of them", d.Name, d.C, d.H, d.W, d.Pad, d.Classes, d.Len())
	}
	if info := d.Info(); info.N != 300 || info.H != Side {
		t.Fatalf("info %v", info)
	}
	for i, at := range a.Attrs {
		if err := at.Valid(); err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if d.Labels[i] != int64(at.Digit) {
			t.Fatalf("image %d: label %d, digit %d", i, d.Labels[i], at.Digit)
		}
		p, err := Parse(a.Captions[i])
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if p != a.Prompts[i] {
			t.Fatalf("image %d: caption %q parses to %+v, the set holds %+v", i, a.Captions[i], p, a.Prompts[i])
		}
		if p.Satisfied(at) != p.Named() {
			t.Fatalf("image %d: caption %q is not true of %v", i, a.Captions[i], at)
		}
		// Some ink is at full strength: even thin small digits are seen.
		peak := slices.Max(d.U8[i*Side*Side : (i+1)*Side*Side])
		if peak < 160 {
			t.Fatalf("image %d (%v): brightest pixel %d", i, at, peak)
		}
	}
}

// TestOpenSplit: the validation split is MNIST's training digits drawn
// with ValSeed, unlike both the train and the test split; datasets.Open,
// OpenSplit and SplitCaptions agree on it; an unknown split is an error.
func TestOpenSplit(t *testing.T) {
	val, err := OpenSplit("val", 30)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(source(t), 30, ValSeed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(val.Images.U8, want.Images.U8) || !slices.Equal(val.Captions, want.Captions) {
		t.Fatal("the val split is not MNIST's training digits drawn with ValSeed")
	}
	for _, split := range []string{"train", "test"} {
		o, err := OpenSplit(split, 30)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(o.Images.U8, val.Images.U8) || slices.Equal(o.Captions, val.Captions) {
			t.Fatalf("the val split repeats the %s split", split)
		}
	}
	d, err := datasets.Open(DataKind+":30", "val")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.U8, val.Images.U8) {
		t.Fatal("datasets.Open and OpenSplit differ on the val split")
	}
	caps, err := SplitCaptions("val", 30)
	if err != nil || !slices.Equal(caps, val.Captions) {
		t.Fatalf("SplitCaptions: %v", err)
	}
	if _, err := OpenSplit("dev", 3); err == nil || !strings.Contains(err.Error(), `"dev"`) {
		t.Fatalf("split dev: %v", err)
	}
	if _, err := SplitCaptions("val", 0); err == nil {
		t.Fatal("0 captions: no error")
	}
}

// TestLayout checks where the digits go: nothing drawn leaves the canvas,
// the ink has the size's height, and the centre of mass is where the cell
// puts it unless the digit had to move to stay inside.
func TestLayout(t *testing.T) {
	src := source(t)
	const n = 1000
	set := &Set{
		Images:   &datasets.Images{C: 1, H: Side, W: Side, U8: make([]uint8, n*Side*Side), Labels: make([]int64, n), Classes: 10},
		Attrs:    make([]Attrs, n),
		Captions: make([]string, n),
		Prompts:  make([]Prompt, n),
	}
	var r renderer
	moved := [3]int{}
	for i := range n {
		if err := set.draw(src, i, 5, &r); err != nil {
			t.Fatal(err)
		}
		a, p := set.Attrs[i], r.placed
		const eps = 1e-9
		if p.drawn[0] < -eps || p.drawn[1] < -eps || p.drawn[2] > Side+eps || p.drawn[3] > Side+eps {
			t.Fatalf("image %d (%v) is drawn over %v, beyond the canvas", i, a, p.drawn)
		}
		if h := p.ink[3] - p.ink[1]; math.Abs(h-heights[a.Size]) > jitter+eps {
			t.Fatalf("image %d (%v): ink %g high", i, a, h)
		}
		touches := p.drawn[0] < eps || p.drawn[1] < eps || p.drawn[2] > Side-eps || p.drawn[3] > Side-eps
		if touches {
			moved[a.Size]++
			continue
		}
		if math.Abs(p.com[0]-centres[a.Size][a.H]) > jitter+eps || math.Abs(p.com[1]-centres[a.Size][a.V]) > jitter+eps {
			t.Fatalf("image %d (%v): centre of mass at %v", i, a, p.com)
		}
	}
	t.Logf("digits moved to stay inside: %d small, %d large of %d", moved[Small], moved[Large], n)
}

// TestGenerateDraws checks the attributes are drawn evenly and the
// captions name each with about NameProb, and that both digit forms occur.
func TestGenerateDraws(t *testing.T) {
	set := fixture(t).cal
	n := float64(set.Len())
	var named [4]float64
	var sizes [3]float64
	var strokes [4]float64
	numerals := 0.0
	for i, p := range set.Prompts {
		for k, ok := range []bool{p.Size != AnySize, p.Stroke != AnyStroke, p.H != AnyH, p.V != AnyV} {
			named[k] += b2f(ok)
		}
		sizes[set.Attrs[i].Size]++
		strokes[set.Attrs[i].Stroke]++
		if strings.ContainsAny(set.Captions[i], "0123456789") {
			numerals++
		}
	}
	for k, c := range named {
		if r := c / n; math.Abs(r-NameProb) > 0.05 {
			t.Errorf("attribute %d named in %.3f of captions, want about %g", k, r, NameProb)
		}
	}
	if r := sizes[Small] / n; math.Abs(r-0.5) > 0.05 {
		t.Errorf("%.3f small", r)
	}
	for s := Thin; s <= Thick; s++ {
		if r := strokes[s] / n; math.Abs(r-1.0/3) > 0.05 {
			t.Errorf("%.3f %s", r, s)
		}
	}
	if r := numerals / n; math.Abs(r-0.5) > 0.05 {
		t.Errorf("%.3f of captions with numerals", r)
	}
}

func TestGenerateErrors(t *testing.T) {
	src := source(t)
	shapes, err := datasets.Shapes(10, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	unlabelled := *src.Subset(10)
	unlabelled.Labels = nil
	badLabel := *src.Subset(10)
	badLabel.Labels = slices.Clone(badLabel.Labels)
	badLabel.Labels[3] = 11
	float := &datasets.Images{Name: "floats", C: 1, H: 28, W: 28, F32: make([]float32, 2*28*28), Labels: []int64{1, 2}, Classes: 10}
	for _, c := range []struct {
		name string
		src  *datasets.Images
		n    int
		want string
	}{
		{"zero", src, 0, "must be positive"},
		{"negative", src, -3, "must be positive"},
		{"nil", nil, 5, "no source"},
		{"shapes", shapes, 5, "want 1×28×28"},
		{"unlabelled", &unlabelled, 5, "must be labelled"},
		{"label", &badLabel, 5, "label 11 of image 3"},
		{"floats", float, 5, "want 1×28×28 bytes"},
	} {
		_, err := Generate(c.src, c.n, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := Open("valid", 5, 1); err == nil || !strings.Contains(err.Error(), "valid") {
		t.Errorf("Open of a bad split: %v", err)
	}
	if _, err := Open("test", 0, 1); err == nil {
		t.Error("Open of 0 images succeeded")
	}
}

func TestMeasureGeometry(t *testing.T) {
	img := make([]float32, Side*Side)
	for k := range img {
		img[k] = -1
	}
	g, err := MeasureGeometry(img)
	if err != nil || g.Ink {
		t.Fatalf("blank image: %+v, %v", g, err)
	}
	// A bar 3 wide and 20 tall, its left edge at x = 5, top at y = 4.
	for y := 4; y < 24; y++ {
		for x := 5; x < 8; x++ {
			img[y*Side+x] = 1
		}
	}
	g, err = MeasureGeometry(img)
	if err != nil {
		t.Fatal(err)
	}
	want := Geometry{Ink: true, Height: 20, X: 6.5, Y: 14, Stroke: 2 * 60 / 46.0}
	if g.Ink != want.Ink || g.Height != want.Height || math.Abs(g.X-want.X) > 1e-9 || math.Abs(g.Y-want.Y) > 1e-9 || math.Abs(g.Stroke-want.Stroke) > 1e-9 {
		t.Fatalf("bar: %+v, want %+v", g, want)
	}
	img[5] = float32(math.NaN())
	if _, err := MeasureGeometry(img); err == nil || !strings.Contains(err.Error(), "(5, 0)") {
		t.Fatalf("NaN pixel: %v", err)
	}
	if _, err := MeasureGeometry(img[:10]); err == nil {
		t.Fatal("a short image measured")
	}
}

// fixtures holds a calibration set, held-out images and a measurer, made
// once.
type fixtures struct {
	cal, held *Set
	m         *Measurer
}

var (
	fixOnce sync.Once
	fix     fixtures
	fixErr  error
)

func fixture(t testing.TB) fixtures {
	fixOnce.Do(func() {
		if fix.cal, fixErr = Generate(source(t), 2000, 1); fixErr != nil {
			return
		}
		if fix.held, fixErr = Open("test", 1000, 2); fixErr != nil {
			return
		}
		fix.m, fixErr = Calibrate(fix.cal)
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

// TestMeasurerAccuracy checks the ceiling: a measurer calibrated on 2,000
// training images reads the attributes of 1,000 images made from MNIST's
// test digits. Measured: digit 0.942, size 1, stroke 0.985, column 0.990,
// row 0.990 (crop framing; on the calibration set the whole image gives
// the digit 0.52, the crop 0.93).
func TestMeasurerAccuracy(t *testing.T) {
	f := fixture(t)
	m := f.m
	if m.Framing != FrameCrop || !(m.Calibration.DigitCrop > m.Calibration.DigitWhole) {
		t.Errorf("framing %s, calibration %+v: the crop should win", m.Framing, m.Calibration)
	}
	acc, err := m.Accuracy(f.held)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held out: %v; calibration %+v", acc, m.Calibration)
	for _, c := range []struct {
		name     string
		got, min float64
	}{{"digit", acc.Digit, 0.9}, {"size", acc.Size, 0.99}, {"stroke", acc.Stroke, 0.95}, {"column", acc.H, 0.97}, {"row", acc.V, 0.97}} {
		if c.got < c.min {
			t.Errorf("%s accuracy %.4f < %.2f", c.name, c.got, c.min)
		}
	}
	// The set's images are measured whatever their storage.
	x := make([]float32, 50*Side*Side)
	f.held.Images.Batch(seq(50), x, nil)
	asF32 := *f.held.Images.Subset(50)
	asF32.U8, asF32.F32 = nil, x
	sub := &Set{Images: &asF32, Attrs: f.held.Attrs[:50]}
	if _, err := m.Accuracy(sub); err != nil {
		t.Fatal(err)
	}
}

func TestMeasurerSaveLoad(t *testing.T) {
	m := fixture(t).m
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "measurer.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := LoadMeasurer(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Framing != m.Framing || l.LargeHeight != m.LargeHeight || l.Small != m.Small || l.Large != m.Large || l.Calibration != m.Calibration {
		t.Fatalf("loaded %+v, saved %+v", *l, *m)
	}
	held := fixture(t).held.Subset(64)
	a1, err := m.Accuracy(held)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := l.Accuracy(held)
	if err != nil || a1 != a2 {
		t.Fatalf("loaded measurer reads %v, saved one %v (%v)", a2, a1, err)
	}
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, _ := os.ReadFile(path)
	for _, c := range []struct{ name, content, want string }{
		{"broken.json", "{", "broken.json"},
		{"kind.json", strings.Replace(string(good), MeasurerKind, "other", 1), `kind "other"`},
		{"framing.json", strings.Replace(string(good), `"crop"`, `"zoom"`, 1), `framing "zoom"`},
		{"order.json", `{"kind":"captions-measurer","version":1,"digit_framing":"crop","large_height":17,"small":{"x":[18,12],"y":[1,2],"stroke":[1,2]},"large":{"x":[1,2],"y":[1,2],"stroke":[1,2]}}`, "column thresholds of small digits"},
	} {
		_, err := LoadMeasurer(write(c.name, c.content))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: %v, want an error naming the file and %q", c.name, err, c.want)
		}
	}
	if _, err := LoadMeasurer(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
	if err := (&Measurer{}).Save(filepath.Join(dir, "empty.json")); err == nil {
		t.Error("saved an empty measurer")
	}
}

func TestCalibrateErrors(t *testing.T) {
	f := fixture(t)
	if _, err := Calibrate(f.cal.Subset(50)); err == nil || !strings.Contains(err.Error(), "at least") {
		t.Errorf("50 images: %v", err)
	}
	if _, err := Calibrate(nil); err == nil {
		t.Error("nil set calibrated")
	}
	small := f.cal.Subset(400)
	onlySmall := &Set{Images: small.Images, Attrs: slices.Clone(small.Attrs)}
	for i := range onlySmall.Attrs {
		onlySmall.Attrs[i].Size = Small
	}
	if _, err := Calibrate(onlySmall); err == nil || !strings.Contains(err.Error(), "size") {
		t.Errorf("one size only: %v", err)
	}
	short := &Set{Images: small.Images, Attrs: small.Attrs[:10]}
	if _, err := Calibrate(short); err == nil || !strings.Contains(err.Error(), "10 attributes") {
		t.Errorf("mismatched set: %v", err)
	}
}

// TestAdherence checks real images against their own captions and against
// other images' captions: measured 0.978 and 0.274 (mean share).
func TestAdherence(t *testing.T) {
	f := fixture(t)
	set := f.held
	n := set.Len()
	x := make([]float32, n*Side*Side)
	set.Images.Batch(seq(n), x, nil)
	own, err := Adherence(f.m, x, n, set.Prompts, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := make([]Prompt, n)
	for i := range shuffled {
		shuffled[i] = set.Prompts[(i+n/2)%n]
	}
	other, err := Adherence(f.m, x, n, shuffled, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := own.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n")
	other.WriteTable(&b)
	t.Logf("own captions, then shuffled:\n%s", b.String())
	if own.Share.Value < 0.95 || own.Digit.Satisfied.Value < 0.9 {
		t.Errorf("real images have %.3f of their own captions (digit %.3f)", own.Share.Value, own.Digit.Satisfied.Value)
	}
	if !(other.Share.Hi < own.Share.Lo-0.3) {
		t.Errorf("shuffled captions score %v, own %v: not clearly lower", other.Share, own.Share)
	}
	if own.Images != n || own.Digit.Named != n || own.Size.Named == 0 || own.Size.Named == n {
		t.Errorf("counts %+v", own)
	}
	// Every prompt naming only the digit, checked by hand.
	digitsOnly := make([]Prompt, n)
	agree := 0.0
	got, err := f.m.Measure(x, n)
	if err != nil {
		t.Fatal(err)
	}
	for i := range digitsOnly {
		digitsOnly[i] = Prompt{Digit: set.Attrs[i].Digit}
		agree += b2f(got[i].Digit == set.Attrs[i].Digit)
	}
	r, err := Adherence(f.m, x, n, digitsOnly, 20, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size.Named != 0 || r.Share.Value != agree/float64(n) || r.All.Value != r.Share.Value {
		t.Errorf("digit-only report %+v, want share %v", r, agree/float64(n))
	}
	b.Reset()
	r.WriteTable(&b)
	if !strings.Contains(b.String(), "| size | 0 | — |") {
		t.Errorf("table without sizes:\n%s", b.String())
	}
}

func TestAdherenceErrors(t *testing.T) {
	m := fixture(t).m
	x := make([]float32, 2*Side*Side)
	for k := range x {
		x[k] = -1
	}
	ps := []Prompt{{Digit: 1}, {Digit: 2}}
	for _, c := range []struct {
		name    string
		m       *Measurer
		x       []float32
		n       int
		prompts []Prompt
		reps    int
		want    string
	}{
		{"length", m, x[:100], 2, ps, 10, "100 values"},
		{"zero", m, nil, 0, nil, 10, "0 images"},
		{"prompts", m, x, 2, ps[:1], 10, "1 prompts for 2"},
		{"prompt", m, x, 2, []Prompt{{Digit: 1}, {Digit: 12}}, 10, "prompt 1"},
		{"reps", m, x, 2, ps, 1, "1 bootstrap"},
		{"measurer", &Measurer{}, x, 2, ps, 10, "kind"},
		{"nil measurer", nil, x, 2, ps, 10, "no measurer"},
	} {
		_, err := Adherence(c.m, c.x, c.n, c.prompts, c.reps, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	x[Side*Side+40] = float32(math.Inf(1))
	if _, err := Adherence(m, x, 2, ps, 10, 1); err == nil || !strings.Contains(err.Error(), "image 1") {
		t.Errorf("infinite pixel: %v", err)
	}
	// Blank images have no attribute: they satisfy nothing.
	x[Side*Side+40] = -1
	r, err := Adherence(m, x, 2, ps, 10, 1)
	if err != nil || r.Share.Value != 0 {
		t.Errorf("blank images: %+v, %v", r, err)
	}
}
