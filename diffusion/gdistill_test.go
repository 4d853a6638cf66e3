package diffusion

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// TestGuidedTarget: the teacher's target of guidance distillation, with
// per-row timesteps and scales, is what Guided gives row by row.
func TestGuidedTarget(t *testing.T) {
	data := captioned(t)
	m := tinyTextModel(t)
	w, err := m.WidenInput(6)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, v := range [][]float32{w.Params.Data("conv_in.weight")} {
		for i := range v {
			v[i] += float32(0.1 * rng.NormFloat64()) // the source image matters
		}
	}
	text, err := NewTextFor(m.Config, data, tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	const n, c, h = 3, 3, 16
	per := c * h * h
	x, src := make([]float32, n*per), make([]float32, n*per)
	for i := range x {
		x[i], src[i] = float32(rng.NormFloat64()), float32(2*rng.Float64()-1)
	}
	prompts := []string{"a one", "a two", "a three"}
	emb, err := text.Embed(prompts)
	if err != nil {
		t.Fatal(err)
	}
	null, err := text.Embed([]string{""})
	if err != nil {
		t.Fatal(err)
	}
	ts := []float64{100, 500, 900}
	st, si := []float64{7.5, 2, 12}, []float64{1.5, 1, 3}
	got, err := guidedTarget(w, x, src, []int{n, c, h, h}, ts, emb, null, st, si)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		g, err := Guide(&ModelDenoiser{Model: w}, Guidance{Scale: st[i], ImageScale: si[i], Null: Cond{Text: null}})
		if err != nil {
			t.Fatal(err)
		}
		cond := Cond{Text: emb, Image: tensor.New(tensor.WithShape(n, c, h, h), tensor.WithBacking(src))}.Slice(i, i+1)
		want, err := g.Predict(tensor.New(tensor.WithShape(1, c, h, h), tensor.WithBacking(x[i*per:(i+1)*per])), ts[i], cond)
		if err != nil {
			t.Fatal(err)
		}
		var d float64
		for k, v := range want.Float32s() {
			d = math.Max(d, math.Abs(float64(v-got[i*per+k])))
		}
		if d > 1e-4 {
			t.Fatalf("row %d: the target differs from Guided by %g", i, d)
		}
	}
	// The student starts as the teacher's conditional branch, whatever
	// its scales.
	s, err := w.AddClassProjection(2*w.Config.BlockOutChannels[0], 9)
	if err != nil {
		t.Fatal(err)
	}
	vec, err := GuidanceVector(s, st, si)
	if err != nil {
		t.Fatal(err)
	}
	xin := ConcatChannels(tensor.New(tensor.WithShape(n, c, h, h), tensor.WithBacking(x)), tensor.New(tensor.WithShape(n, c, h, h), tensor.WithBacking(src)))
	a, err := w.Forward(xin, ts, Cond{Text: emb}.UNet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Forward(xin, ts, Cond{Text: emb, ClassVector: vec}.UNet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range a.Float32s() {
		if v != b.Float32s()[k] {
			t.Fatalf("the new student differs from its teacher at %d: %g vs %g", k, b.Float32s()[k], v)
		}
	}
	if _, err := GuidanceVector(w, st, si); err == nil {
		t.Fatal("a guidance vector for a model without the projection")
	}
	bad := GuidanceDistillation{Teacher: "x", TextScale: [2]float64{3, 2}, ImageScale: [2]float64{1, 2}}
	if bad.Validate() == nil {
		t.Fatal("a reversed range accepted")
	}
	bad.TextScale = [2]float64{math.NaN(), 2}
	if bad.Validate() == nil {
		t.Fatal("a NaN range accepted")
	}
}

// TestEquivariant: the affine transform of equivariant fine-tuning is the
// identity at zero, moves an image by whole pixels exactly, and the
// trainer gives a pair's source and target the same one.
func TestEquivariant(t *testing.T) {
	const h, w = 16, 16
	img := make([]float32, h*w)
	for i := range img {
		img[i] = float32(i%7)/7*2 - 1
	}
	tmp := make([]float32, h*w)
	id := affine{inv: [4]float64{1, 0, 0, 1}}
	x := append([]float32(nil), img...)
	id.apply(x, 1, h, w, tmp)
	for i := range x {
		if math.Abs(float64(x[i]-img[i])) > 1e-6 {
			t.Fatalf("the identity moves pixel %d: %g vs %g", i, x[i], img[i])
		}
	}
	shift := affine{inv: [4]float64{1, 0, 0, 1}, dx: 2, dy: -1}
	x = append([]float32(nil), img...)
	shift.apply(x, 1, h, w, tmp)
	for y := 1; y < h-1; y++ {
		for xx := 2; xx < w; xx++ {
			if math.Abs(float64(x[y*w+xx]-img[(y+1)*w+xx-2])) > 1e-6 {
				t.Fatalf("a shift of (2, −1) puts %g at (%d, %d), want %g", x[y*w+xx], xx, y, img[(y+1)*w+xx-2])
			}
		}
	}
	// The trainer: pairs whose source is their target stay equal.
	data := captioned(t)
	in := *data
	in.Captions = nil
	data.Inputs = &in
	m, err := tinyTextModel(t).WidenInput(6)
	if err != nil {
		t.Fatal(err)
	}
	c := tinyConfig()
	c.Equivariant, c.CondDropout = true, 0
	text, err := NewTextFor(m.Config, data, c)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTextTrainer(t.TempDir()+"/run", m, text, data, c)
	if err != nil {
		t.Fatal(err)
	}
	tr.nextBatch(&tr.b)
	raw := make([]float32, len(tr.b.x0))
	data.Batch(rand.New(rand.NewPCG(c.Seed, 0)).Perm(data.Len())[:c.BatchSize], raw, nil) // the loader's first batch
	moved := false
	for i := range tr.b.x0 {
		if tr.b.x0[i] != tr.b.src[i] {
			t.Fatalf("the source and the target got different transforms at %d", i)
		}
		if tr.b.x0[i] != raw[i] {
			moved = true
		}
	}
	if !moved {
		t.Fatal("equivariant fine-tuning left the images as they were")
	}
	c.Equivariant = true
	if _, err := NewTextTrainer(t.TempDir()+"/r2", tinyTextModel(t), text, captioned(t), c); err == nil {
		t.Fatal("equivariant fine-tuning without edit pairs accepted")
	}
}
