package edits

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
)

var (
	mnistOnce sync.Once
	mnist     *datasets.Images
	mnistErr  error
)

func source(t testing.TB) *datasets.Images {
	mnistOnce.Do(func() { mnist, mnistErr = datasets.MNIST("test", "", false) })
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	return mnist
}

func TestInstructions(t *testing.T) {
	all := All()
	if len(all) != 50 {
		t.Fatalf("%d instructions, want 10 single and 40 double", len(all))
	}
	held, seen := 0, map[string]bool{}
	for _, in := range all {
		if err := in.Valid(); err != nil {
			t.Fatal(err)
		}
		for _, swap := range []bool{false, true} {
			p := in.Phrase(swap)
			got, err := Parse(p)
			if err != nil || got != in {
				t.Fatalf("Parse(%q) = %v, %v; want %v", p, got, err, in)
			}
		}
		if seen[in.String()] {
			t.Fatalf("two instructions read %q", in)
		}
		seen[in.String()] = true
		if in.HeldOut() {
			held++
		}
	}
	if held != 10 {
		t.Fatalf("%d instructions held out, want one per pair of attributes (10)", held)
	}
	// Each change of a held-out instruction is seen in training in
	// another combination.
	for _, in := range all {
		if !in.HeldOut() {
			continue
		}
		for _, a := range in.Changes() {
			found := false
			for _, o := range all {
				if !o.HeldOut() && len(o.Changes()) == 2 && o[a] == in[a] {
					found = true
				}
			}
			if !found {
				t.Fatalf("held-out %q: its change of %s is never seen in a trained pair", in, a)
			}
		}
	}
	for _, bad := range []string{"", "make it purple", "make it thicker and make it thinner", "move it up and move it down and make it bigger"} {
		if _, err := Parse(bad); err == nil {
			t.Fatalf("Parse(%q) succeeded", bad)
		}
	}
	if _, err := Parse("make it purple"); err == nil || !strings.Contains(err.Error(), `"make it purple"`) {
		t.Fatalf("an unknown phrase: %v", err)
	}
	if (Instruction{}).Valid() == nil || (Instruction{2}).Valid() == nil || (Instruction{1, 1, 1}).Valid() == nil {
		t.Fatal("invalid instructions pass Valid")
	}
	a := captions.Attrs{Digit: 3, Size: captions.Large, Stroke: captions.Thick, H: captions.Left, V: captions.Bottom}
	for _, c := range []struct {
		p  string
		ok bool
	}{{"make it thicker", false}, {"make it thinner", true}, {"make it bigger", false}, {"move it to the left", false},
		{"move it to the right", true}, {"move it down", false}, {"move it up and rotate it a little left", true}} {
		in, _ := Parse(c.p)
		if in.Applies(a) != c.ok {
			t.Fatalf("%q applies to %v: %v, want %v", c.p, a, !c.ok, c.ok)
		}
	}
	in, _ := Parse("make it thinner and rotate it a little right")
	b, angle := in.Apply(a)
	if b.Stroke != captions.Normal || b.Size != a.Size || b.H != a.H || b.V != a.V || angle != -Angle {
		t.Fatalf("Apply = %v, %g", b, angle)
	}
}

func TestGenerate(t *testing.T) {
	src := source(t)
	a, err := Generate(src, 300, 7, TestMix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(src, 40, 7, TestMix)
	if err != nil {
		t.Fatal(err)
	}
	const per = captions.Side * captions.Side
	if !bytes.Equal(b.Data.U8, a.Data.U8[:40*per]) || !bytes.Equal(b.Data.Inputs.U8, a.Data.Inputs.U8[:40*per]) || !slices.Equal(b.Phrases(), a.Phrases()[:40]) {
		t.Fatal("the first 40 pairs depend on the number generated")
	}
	if err := a.Data.Info(); err.N != 300 {
		t.Fatalf("info %v", err)
	}
	kinds := map[string]int{}
	for i, in := range a.Instructions {
		if !in.Applies(a.Before[i]) {
			t.Fatalf("pair %d: %q does not apply to %v", i, in, a.Before[i])
		}
		after, angle := in.Apply(a.Before[i])
		if after != a.After[i] || angle != a.Angles[i] {
			t.Fatalf("pair %d: after %v %g, the set holds %v %g", i, after, angle, a.After[i], a.Angles[i])
		}
		if got, err := Parse(a.Phrases()[i]); err != nil || got != in {
			t.Fatalf("pair %d: phrase %q reads %v, %v", i, a.Phrases()[i], got, err)
		}
		if a.Data.Labels[i] != int64(a.Before[i].Digit) || a.Data.Inputs.Labels[i] != a.Data.Labels[i] {
			t.Fatalf("pair %d: labels %d, %d, digit %d", i, a.Data.Labels[i], a.Data.Inputs.Labels[i], a.Before[i].Digit)
		}
		if bytes.Equal(a.Data.U8[i*per:(i+1)*per], a.Data.Inputs.U8[i*per:(i+1)*per]) {
			t.Fatalf("pair %d (%q): the target is the source", i, in)
		}
		kinds[KindOf(in)]++
	}
	for _, k := range Kinds() {
		if kinds[k] < 70 {
			t.Fatalf("%d of 300 test pairs are %q, want about a third", kinds[k], k)
		}
	}
	tr, err := Generate(src, 300, 7, TrainMix)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range tr.Instructions {
		if in.HeldOut() {
			t.Fatalf("train pair %d draws the held-out %q", i, in)
		}
	}
	if _, err := Generate(src, 0, 7, TrainMix); err == nil {
		t.Fatal("0 pairs generated")
	}
	if _, err := Generate(&datasets.Images{Name: "x", C: 3, H: 28, W: 28, U8: make([]uint8, 3*28*28)}, 5, 7, TrainMix); err == nil {
		t.Fatal("a colour source accepted")
	}
}

// TestMeasuresOnTrueEdits checks the measures against the pairs'
// ground truth: the true edits read as made and everything else kept far
// more often than not, the sources as no edit made, and a rotation read
// back to within a degree or two of the angle drawn.
func TestMeasuresOnTrueEdits(t *testing.T) {
	set, err := Generate(source(t), 400, 11, TestMix)
	if err != nil {
		t.Fatal(err)
	}
	m, err := captions.DefaultMeasurer()
	if err != nil {
		t.Fatal(err)
	}
	const per = captions.Side * captions.Side
	n := set.Len()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	src, tgt := make([]float32, n*per), make([]float32, n*per)
	set.Data.Inputs.Batch(idx, src, nil)
	set.Data.Batch(idx, tgt, nil)
	res, err := Evaluate(m, set, tgt, n)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Summarise(set, res, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Success.Share.Value < 0.93 || rep.Preserved.Share.Value < 0.9 {
		t.Fatalf("true edits: success %v, preservation %v", rep.Success.Share, rep.Preserved.Share)
	}
	if rep.L2.Value != 0 || rep.PSNR.Value != 200 || rep.L1Out.Value != 0 {
		t.Fatalf("true edits: L2 %v, PSNR %v, L1 outside %v", rep.L2, rep.PSNR, rep.L1Out)
	}
	var errs []float64
	for i, r := range res {
		if set.Instructions[i][Size] == 0 {
			errs = append(errs, math.Abs(r.Angle-set.Angles[i]))
		}
	}
	slices.Sort(errs)
	if med := errs[len(errs)/2]; med > 1 {
		t.Fatalf("the rotation reads %g° off the drawn angle (median)", med)
	}
	if d := CountDigitMisses(res); d.AsSource+d.Other != 0 {
		t.Fatalf("the true edits miss their own digit reading: %+v", d)
	}
	ident, err := Evaluate(m, set, src, n)
	if err != nil {
		t.Fatal(err)
	}
	// The sources as edits keep the source's reading: every digit miss is
	// one the true edit reads as another digit.
	for i, r := range ident {
		if r.Digits[2] != r.Digits[0] || r.Kept[keptDigit] != (r.Digits[0] == r.Digits[1]) {
			t.Fatalf("pair %d, the source as its edit: readings %v, digit kept %v", i, r.Digits, r.Kept[keptDigit])
		}
	}
	if d := CountDigitMisses(ident); d.Other != 0 {
		t.Fatalf("the sources as edits: %+v", d)
	}
	irep, err := Summarise(set, ident, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	if irep.Success.Share.Value > 0.02 || irep.Preserved.Share.Value < 0.85 || irep.L2.Value < 5 {
		t.Fatalf("the sources as edits: success %v, preservation %v, L2 %v", irep.Success.Share, irep.Preserved.Share, irep.L2)
	}
	var buf strings.Builder
	if err := rep.WriteTable(&buf, &irep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| edit success |", "(held out)", KindHeldOut} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, buf.String())
		}
	}
	// An output without ink makes no edit, whatever the source reads as.
	blank := make([]float32, n*per)
	for i := range blank {
		blank[i] = -1
	}
	bres, err := Evaluate(m, set, blank, n)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range bres {
		if r.Success {
			t.Fatalf("pair %d (%q): a blank output counts as the edit", i, set.Instructions[i])
		}
	}
	bad := slices.Clone(tgt)
	bad[5] = float32(math.NaN())
	if _, err := Evaluate(m, set, bad, n); err == nil {
		t.Fatal("a NaN pixel measured")
	}
	if _, err := Evaluate(m, set, tgt[:per], n); err == nil {
		t.Fatal("too few values measured")
	}
}

func TestOpenSplit(t *testing.T) {
	d, err := datasets.Open("edits:20", "test")
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 20 || d.Inputs == nil || d.Inputs.Len() != 20 || len(d.Captions) != 20 {
		t.Fatalf("edits:20 gave %d images, inputs %v, %d captions", d.Len(), d.Inputs != nil, len(d.Captions))
	}
	s, err := OpenSplit("test", 20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Data.U8, d.U8) {
		t.Fatal("OpenSplit and datasets.Open differ")
	}
	val, err := OpenSplit("val", 20)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(val.Data.U8, d.U8) {
		t.Fatal("the validation split is the test split")
	}
	if _, err := OpenSplit("dev", 3); err == nil || !strings.Contains(err.Error(), `edits: split "dev" is not train, val or test`) {
		t.Fatalf("split dev: %v", err)
	}
	// "one": the train split's instructions are one-change ones alone;
	// the held-out splits stay as they are.
	for _, spec := range []string{"edits:40:one", "edits:one"} {
		c, err := datasets.Open(spec, "train")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(c.Name, "-clauses") {
			t.Fatalf("%s: named %q, not as one-change pairs", spec, c.Name)
		}
		if spec == "edits:one" && c.Len() != 60000 {
			t.Fatalf("%s: %d pairs, want the train split's 60000", spec, c.Len())
		}
		for i, phrase := range c.Captions[:40] {
			if strings.Contains(phrase, " and ") {
				t.Fatalf("%s: pair %d's instruction %q has two changes", spec, i, phrase)
			}
		}
	}
	mixed, err := datasets.Open("edits:40", "train")
	if err != nil {
		t.Fatal(err)
	}
	if two := strings.Count(strings.Join(mixed.Captions, "|"), " and "); two < 10 {
		t.Fatalf("the train split drew %d two-change instructions of 40", two)
	}
	testOne, err := datasets.Open("edits:20:one", "test")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(testOne.U8, d.U8) {
		t.Fatal(`"one" changed the test split`)
	}
	for _, bad := range []string{"edits:0", "edits:-3", "edits:x", "edits:x:one", "edits:0:one"} {
		if _, err := datasets.Open(bad, "test"); err == nil || !strings.Contains(err.Error(), "bad count") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	o := d.Info()
	d.Inputs.U8[0]++
	if d.Info().Same(o) {
		t.Fatal("the data's digest does not cover its input images")
	}
	d.Inputs.U8[0]--
}

func TestCountDigitMisses(t *testing.T) {
	res := []Result{
		{Digits: [3]int{3, 3, 3}}, // kept
		{Digits: [3]int{9, 8, 8}}, // kept: the output follows the true edit
		{Digits: [3]int{9, 8, 9}}, // read as the source's
		{Digits: [3]int{4, 4, 9}}, // another digit
		{Digits: [3]int{9, 8, 5}}, // another digit
		{Digits: [3]int{7, 7, -1}},
	}
	got := CountDigitMisses(res)
	if want := (DigitMisses{Pairs: 6, AsSource: 1, Other: 3}); got != want {
		t.Fatalf("CountDigitMisses = %+v, want %+v", got, want)
	}
}

// TestAgree counts in how many seeds each pair failed.
func TestAgree(t *testing.T) {
	kept, miss := Result{Digits: [3]int{3, 3, 3}, Preserved: true}, Result{Digits: [3]int{3, 3, 5}}
	other := Result{Digits: [3]int{3, 3, 3}} // preserved fails on another attribute
	a, err := Agree([][]Result{{kept, miss, miss, other}, {kept, miss, kept, kept}, {kept, miss, kept, other}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Seeds != 3 || !slices.Equal(a.DigitMissed, []int{2, 1, 0, 1}) || !slices.Equal(a.NotPreserved, []int{1, 1, 1, 1}) {
		t.Fatalf("agreement %+v", a)
	}
	if _, err := Agree([][]Result{{kept}, {kept, kept}}); err == nil {
		t.Fatal("runs of different lengths: no error")
	}
	if _, err := Agree(nil); err == nil {
		t.Fatal("no runs: no error")
	}
}
