package diffusion

import (
	"math"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/unet"
)

// condEcho is a denoiser whose output encodes each row's conditioning:
// label + 10·(text sum) + 100·(image sum), the same value at every
// element, so a test can read back what each branch saw.
type condEcho struct {
	seen []Cond
}

func (e *condEcho) Predict(x *tensor.Dense, t float64, c Cond) (*tensor.Dense, error) {
	e.seen = append(e.seen, c)
	s := x.Shape()
	n, per := s[0], s.TotalSize()/s[0]
	out := tensor.New(tensor.WithShape(s.Clone()...), tensor.Of(tensor.Float32))
	od := out.Data().([]float32)
	for i := 0; i < n; i++ {
		var v float64
		if c.Labels != nil {
			v += float64(c.Labels[i])
		}
		if c.Text != nil {
			ts := c.Text.Shape()
			for _, f := range c.Text.Data().([]float32)[i*ts[1]*ts[2] : (i+1)*ts[1]*ts[2]] {
				v += 10 * float64(f)
			}
		}
		if c.Image != nil {
			is := c.Image.Shape()
			p := is[1] * is[2] * is[3]
			for _, f := range c.Image.Data().([]float32)[i*p : (i+1)*p] {
				v += 100 * float64(f)
			}
		}
		for k := i * per; k < (i+1)*per; k++ {
			od[k] = float32(v)
		}
	}
	return out, nil
}

func filled(v float32, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	d := t.Data().([]float32)
	for i := range d {
		d[i] = v
	}
	return t
}

// TestTwoScaleGuidance: InstructPix2Pix's guidance runs ε(I,T), ε(I,∅) and
// ε(∅,∅) in one batch (the prompt dropped to the empty prompt's embedding,
// the image to zeros) and combines them as
// ε(∅,∅) + s_T[ε(I,T) − ε(I,∅)] + s_I[ε(I,∅) − ε(∅,∅)]; one-scale guidance
// keeps the image on its null branch.
func TestTwoScaleGuidance(t *testing.T) {
	x := filled(0, 2, 1, 2, 2)
	text := filled(0.5, 2, 3, 2)       // each row's text sums to 3: 30
	empty := filled(0.25, 1, 3, 2)     // the empty prompt sums to 1.5: 15
	image := filled(0.125, 2, 1, 2, 2) // each image sums to 0.5: 50
	c := Cond{Text: text, Image: image}
	e := &condEcho{}
	g, err := Guide(e, Guidance{Scale: 7.5, ImageScale: 1.5, Null: Cond{Text: empty}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Predict(x, 500, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.seen) != 1 || e.seen[0].Rows() != 6 {
		t.Fatalf("the denoiser saw %d calls of %d rows, want one of 6", len(e.seen), e.seen[0].Rows())
	}
	full, noText, none := 30.0+50, 15.0+50, 15.0
	want := none + 7.5*(full-noText) + 1.5*(noText-none)
	for i, v := range out.Data().([]float32) {
		if math.Abs(float64(v)-want) > 1e-4 {
			t.Fatalf("element %d: %g, want %g", i, v, want)
		}
	}
	rows, inner, err := g.(*Guided).InnerRows([]Row{{Sample: 4}, {Sample: 5}}, c)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := []Row{{4, BranchCond}, {5, BranchCond}, {4, BranchNull}, {5, BranchNull}, {4, BranchNullImage}, {5, BranchNullImage}}
	if !slices.Equal(rows, wantRows) || inner.Rows() != 6 {
		t.Errorf("inner rows %v (%d conditioning rows), want %v", rows, inner.Rows(), wantRows)
	}
	// One scale: two branches, the image kept on the null one.
	e1 := &condEcho{}
	g1, _ := Guide(e1, Guidance{Scale: 2, Null: Cond{Text: empty}})
	out1, err := g1.Predict(x, 500, c)
	if err != nil {
		t.Fatal(err)
	}
	if e1.seen[0].Rows() != 4 {
		t.Errorf("one-scale guidance ran %d rows, want 4", e1.seen[0].Rows())
	}
	if want1 := noText + 2*(full-noText); math.Abs(float64(out1.Data().([]float32)[0])-want1) > 1e-4 {
		t.Errorf("one-scale output %g, want %g", out1.Data().([]float32)[0], want1)
	}
}

// TestClassGuidanceBranches: class-label guidance drops the label to the
// null class, and reports what it cannot guide.
func TestClassGuidanceBranches(t *testing.T) {
	x := filled(0, 2, 1, 2, 2)
	e := &condEcho{}
	cg, err := ClassGuidance(11, 3)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := Guide(e, cg)
	out, err := g.Predict(x, 10, Labels([]int64{2, 7}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.seen[0].Labels, []int64{2, 7, 10, 10}) {
		t.Errorf("labels of the guided batch %v", e.seen[0].Labels)
	}
	if v := out.Data().([]float32)[0]; v != 10+3*(2-10) {
		t.Errorf("guided output %g, want %d", v, 10+3*(2-10))
	}
	for _, c := range []struct {
		g    Guidance
		c    Cond
		want string
	}{
		{Guidance{Scale: math.NaN()}, Labels([]int64{1, 2}), "not a finite"},
		{Guidance{Scale: 2, ImageScale: -1}, Labels([]int64{1, 2}), "negative"},
		{Guidance{Scale: 2, Null: Labels([]int64{1, 2})}, Labels([]int64{1, 2}), "rows"},
		{Guidance{Scale: 2}, Labels([]int64{1, 2}), "null class"},
		{Guidance{Scale: 2, Null: Labels([]int64{10})}, Cond{}, "prompt to drop"},
		{Guidance{Scale: 2, Null: Labels([]int64{10})}, Cond{Text: filled(1, 2, 3, 2)}, "empty prompt"},
		{Guidance{Scale: 2, ImageScale: 1.5, Null: Labels([]int64{10})}, Labels([]int64{1, 2}), "input image"},
		{Guidance{Scale: 2, Null: Labels([]int64{10})}, Labels([]int64{1}), "1 class labels for 2 rows"},
	} {
		gd, err := Guide(&condEcho{}, c.g)
		if err == nil {
			_, err = gd.Predict(x, 10, c.c)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v on %+v: %v, want an error mentioning %q", c.g, c.c, err, c.want)
		}
	}
	if _, err := ClassGuidance(0, 2); err == nil {
		t.Error("guidance of an unconditional model accepted")
	}
}

// TestCondRows: Slice, Take and Concat keep every field's rows together,
// and Check reports rows and values that do not fit.
func TestCondRows(t *testing.T) {
	text := tensor.New(tensor.WithShape(3, 2, 1), tensor.WithBacking([]float32{0, 1, 10, 11, 20, 21}))
	img := tensor.New(tensor.WithShape(3, 1, 1, 1), tensor.WithBacking([]float32{5, 6, 7}))
	c := Cond{Labels: []int64{0, 1, 2}, Text: text, TextMask: []float32{1, 0, 1, 1, 1, 0}, Image: img}
	if err := c.Check(3); err != nil {
		t.Fatal(err)
	}
	s := c.Slice(1, 3)
	if !slices.Equal(s.Labels, []int64{1, 2}) || !slices.Equal(s.Text.Data().([]float32), []float32{10, 11, 20, 21}) ||
		!slices.Equal(s.TextMask, []float32{1, 1, 1, 0}) || !slices.Equal(s.Image.Data().([]float32), []float32{6, 7}) {
		t.Errorf("Slice(1, 3) = %+v", s)
	}
	tk := c.Take([]int{2, 0})
	if !slices.Equal(tk.Labels, []int64{2, 0}) || !slices.Equal(tk.Text.Data().([]float32), []float32{20, 21, 0, 1}) ||
		!slices.Equal(tk.TextMask, []float32{1, 0, 1, 0}) || !slices.Equal(tk.Image.Data().([]float32), []float32{7, 5}) {
		t.Errorf("Take(2, 0) = %+v", tk)
	}
	cc, err := Concat(s, tk)
	if err != nil || cc.Rows() != 4 || !slices.Equal(cc.Labels, []int64{1, 2, 2, 0}) || cc.Text.Shape()[0] != 4 || cc.Image.Shape()[0] != 4 {
		t.Errorf("Concat: %+v, %v", cc, err)
	}
	if _, err := Concat(s, Labels([]int64{1})); err == nil {
		t.Error("Concat of conditionings with other fields accepted")
	}
	nan := filled(float32(math.NaN()), 1, 2, 1)
	for _, b := range []struct {
		c    Cond
		n    int
		want string
	}{
		{Labels([]int64{1}), 2, "1 class labels for 2 rows"},
		{Cond{Text: filled(1, 2, 3)}, 2, "want (2, tokens, dim)"},
		{Cond{Text: nan}, 1, "NaN"},
		{Cond{Text: filled(1, 1, 2, 1), TextMask: []float32{1}}, 1, "mask of 1 values"},
		{Cond{Text: filled(1, 1, 2, 1), TextMask: []float32{1, 0.5}}, 1, "want 0 (padding) or 1"},
		{Cond{TextMask: []float32{1}}, 1, "without text"},
		{Cond{Image: filled(1, 2, 1, 1)}, 1, "want (1, C, H, W)"},
	} {
		if err := b.c.Check(b.n); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Check(%d) of %+v: %v, want an error mentioning %q", b.n, b.c, err, b.want)
		}
	}
}

// TestModelInputImage: an image-conditioned U-Net (more input than output
// channels) gets the image concatenated to the noisy input; a model that
// cannot take a conditioning says so.
func TestModelInputImage(t *testing.T) {
	m := tinyModel(t)
	x := filled(1, 2, 3, 16, 16)
	if _, err := ModelInput(m, x, Cond{Image: filled(2, 2, 1, 16, 16)}); err == nil || !strings.Contains(err.Error(), "input channels") {
		t.Errorf("an image for a model without image channels: %v", err)
	}
	if _, err := ModelInput(m, x, Cond{Text: filled(1, 2, 4, 8)}); err == nil || !strings.Contains(err.Error(), "cross-attention") {
		t.Errorf("text for a UNet2DModel: %v", err)
	}
	c := m.Config
	c.InChannels = 5
	wide, err := unet.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ModelInput(wide, x, Cond{Image: filled(2, 2, 2, 16, 16)})
	if err != nil {
		t.Fatal(err)
	}
	d := in.Data().([]float32)
	if !in.Shape().Eq(tensor.Shape{2, 5, 16, 16}) || d[0] != 1 || d[3*256] != 2 || d[5*256] != 1 || d[8*256] != 2 {
		t.Errorf("concatenated input %v: %v %v %v %v", in.Shape(), d[0], d[3*256], d[5*256], d[8*256])
	}
	if _, err := ModelInput(wide, x, Cond{}); err == nil || !strings.Contains(err.Error(), "Cond.Image") {
		t.Errorf("an image-conditioned model without an image: %v", err)
	}
	out, err := (&ModelDenoiser{Model: wide}).Predict(x, 100, Cond{Labels: []int64{1, 2}, Image: filled(2, 2, 2, 16, 16)})
	if err != nil || !out.Shape().Eq(x.Shape()) {
		t.Errorf("image-conditioned prediction %v, %v", out, err)
	}
}

// TestComposedGuidance: composing two prompts runs a fourth branch, the
// second prompt's tokens of each row, after the three of two-scale
// guidance, and adds its difference from ε(I,∅); a row whose second
// prompt is the empty one is guided exactly as without composing; one
// scale composes the same way; text of the wrong length is an error.
func TestComposedGuidance(t *testing.T) {
	x := filled(0, 2, 1, 2, 2)
	empty := filled(0.25, 1, 3, 2) // the empty prompt sums to 1.5: 15
	// Row 0: prompts summing to 3 (30) and 2 (20); row 1: 3 and the empty one.
	text := tensor.New(tensor.WithShape(2, 6, 2), tensor.Of(tensor.Float32))
	td := text.Data().([]float32)
	for i := range 6 {
		td[i] = 0.5        // row 0, prompt 1
		td[6+i] = 2.0 / 6  // row 0, prompt 2
		td[12+i] = 0.5     // row 1, prompt 1
		td[18+i] = 1.5 / 6 // row 1, prompt 2: the empty prompt's sum
	}
	copy(td[18:24], empty.Data().([]float32))
	image := filled(0.125, 2, 1, 2, 2) // 50
	c := Cond{Text: text, Image: image}
	e := &condEcho{}
	g, err := Guide(e, Guidance{Scale: 2, ImageScale: 1.5, Compose: 2, Null: Cond{Text: empty}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Predict(x, 500, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.seen) != 1 || e.seen[0].Rows() != 8 || e.seen[0].Text.Shape()[1] != 3 {
		t.Fatalf("the denoiser saw %d calls, the first of %d rows and text %v; want one of 8 rows of 3 tokens", len(e.seen), e.seen[0].Rows(), e.seen[0].Text.Shape())
	}
	noText, none := 15.0+50, 15.0
	od := out.Data().([]float32)
	want0 := none + 2*((30+50-noText)+(20+50-noText)) + 1.5*(noText-none)
	want1 := none + 2*(30+50-noText) + 1.5*(noText-none) // as without composing
	if math.Abs(float64(od[0])-want0) > 1e-3 || math.Abs(float64(od[4])-want1) > 1e-3 {
		t.Fatalf("rows %g and %g, want %g and %g", od[0], od[4], want0, want1)
	}
	rows, _, err := g.(*Guided).InnerRows([]Row{{Sample: 4}, {Sample: 5}}, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Row{{4, BranchCond}, {5, BranchCond}, {4, BranchNull}, {5, BranchNull}, {4, BranchNullImage}, {5, BranchNullImage}, {4, 3}, {5, 3}}; !slices.Equal(rows, want) || Branch(3).String() != "cond-2" {
		t.Errorf("inner rows %v, want %v", rows, want)
	}
	g1, _ := Guide(&condEcho{}, Guidance{Scale: 3, Compose: 2, Null: Cond{Text: empty}})
	rows1, _, err := g1.(*Guided).InnerRows([]Row{{Sample: 4}, {Sample: 5}}, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Row{{4, BranchCond}, {5, BranchCond}, {4, BranchNull}, {5, BranchNull}, {4, 3}, {5, 3}}; !slices.Equal(rows1, want) {
		t.Errorf("one scale, composed: inner rows %v, want %v", rows1, want)
	}
	out1, err := g1.Predict(x, 500, c)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out1.Data().([]float32)[0], noText+3*((30+50-noText)+(20+50-noText)); math.Abs(float64(got)-want) > 1e-3 {
		t.Errorf("one scale, composed: %g, want %g", got, want)
	}
	bad := Cond{Text: filled(0.5, 2, 5, 2), Image: image}
	if _, err := g.Predict(x, 500, bad); err == nil || !strings.Contains(err.Error(), "2 prompts") {
		t.Errorf("5 tokens for 2 prompts of 3: %v", err)
	}
	if err := (Guidance{Scale: 2, Compose: -1}).Validate(); err == nil {
		t.Error("Compose -1: no error")
	}
}
