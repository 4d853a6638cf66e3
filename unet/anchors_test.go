package unet

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
)

// TestAnchorAttention checks FAIRY's anchor attention on a
// UNet2DConditionModel: one anchor recording is the plain forward pass
// exactly; a frame attending to itself as its only anchor (its keys twice)
// is the plain pass up to rounding; frames attending to two anchors give
// the same bits in a batch of three or one by one; attending with no
// record is an error.
func TestAnchorAttention(t *testing.T) {
	f := loadFixture(t, "cond-linear")
	m := f.model
	n := f.sample.Shape()[0]
	row := func(i int) (*tensor.Dense, []float64, Cond) {
		s := f.sample.Shape()
		per := s[1] * s[2] * s[3]
		x := tensor.New(tensor.WithShape(1, s[1], s[2], s[3]), tensor.WithBacking(f.sample.Float32s()[i*per:(i+1)*per]))
		ts := f.cond.Text.Shape()
		c := Cond{Text: tensor.New(tensor.WithShape(1, ts[1], ts[2]), tensor.WithBacking(f.cond.Text.Float32s()[i*ts[1]*ts[2]:(i+1)*ts[1]*ts[2]]))}
		return x, []float64{f.t[0]}, c
	}
	x0, t0, c0 := row(0)
	plain, err := m.Forward(x0, t0, c0, nil)
	if err != nil {
		t.Fatal(err)
	}
	one, err := nn.NewKVStore(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := m.WithAnchors(one).Forward(x0, t0, c0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range plain.Float32s() {
		if rec.Float32s()[i] != v {
			t.Fatalf("one anchor recording differs from the plain pass at %d: %g vs %g", i, rec.Float32s()[i], v)
		}
	}
	if one.Bytes() == 0 {
		t.Fatal("nothing recorded")
	}
	one.Mode = nn.AnchorAttend
	self, err := m.WithAnchors(one).Forward(x0, t0, c0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var d float64
	for i, v := range plain.Float32s() {
		d = math.Max(d, math.Abs(float64(self.Float32s()[i]-v)))
	}
	if d > 1e-5 {
		t.Fatalf("a frame attending to its own keys twice differs from the plain pass by %g", d)
	}

	// Two anchors (rows 0 and 1), then frames attending to them.
	two, err := nn.NewKVStore(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	ts := []float64{f.t[0], f.t[0]}
	s := f.sample.Shape()
	per := s[1] * s[2] * s[3]
	tl := f.cond.Text.Shape()
	anchors := tensor.New(tensor.WithShape(2, s[1], s[2], s[3]), tensor.WithBacking(f.sample.Float32s()[:2*per]))
	ac := Cond{Text: tensor.New(tensor.WithShape(2, tl[1], tl[2]), tensor.WithBacking(f.cond.Text.Float32s()[:2*tl[1]*tl[2]]))}
	if _, err := m.WithAnchors(two).Forward(anchors, ts, ac, nil); err != nil {
		t.Fatal(err)
	}
	two.Mode = nn.AnchorAttend
	att := m.WithAnchors(two)
	all := make([]float64, n)
	for i := range all {
		all[i] = f.t[0]
	}
	batch, err := att.Forward(f.sample, all, Cond{Text: f.cond.Text}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		x, tt, c := row(i)
		y, err := att.Forward(x, tt, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range y.Float32s() {
			if batch.Float32s()[i*len(y.Float32s())+k] != v {
				t.Fatalf("frame %d attending to the anchors differs alone and in a batch of %d", i, n)
			}
		}
	}
	// The anchors change what a frame computes.
	plain2, err := m.Forward(f.sample, all, Cond{Text: f.cond.Text}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d = 0
	for i, v := range plain2.Float32s() {
		d = math.Max(d, math.Abs(float64(batch.Float32s()[i]-v)))
	}
	if d < 1e-4 {
		t.Fatalf("the anchors do not change the frames (max diff %g)", d)
	}
	two.Step = 5 // never recorded
	if _, err := att.Forward(f.sample, all, Cond{Text: f.cond.Text}, nil); err == nil || !strings.Contains(err.Error(), "no record") {
		t.Fatalf("attending with no record: %v", err)
	}
}

// TestAnchorCost: anchors add the attention to their keys to the FLOPs,
// and nothing else.
func TestAnchorCost(t *testing.T) {
	m := loadFixture(t, "cond-linear").model
	s, err := nn.NewKVStore(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.Mode = nn.AnchorAttend
	_, plain := m.CostAt(8, 8, 5).Total()
	_, anch := m.WithAnchors(s).CostAt(8, 8, 5).Total()
	var extra int64
	for _, c := range m.WithAnchors(s).CostAt(8, 8, 5) {
		if strings.HasSuffix(c.Name, ".attn1.attention") {
			extra += c.FLOPs
		}
	}
	var base int64
	for _, c := range m.CostAt(8, 8, 5) {
		if strings.HasSuffix(c.Name, ".attn1.attention") {
			base += c.FLOPs
		}
	}
	if anch-plain != extra-base || extra != 4*base {
		t.Fatalf("FLOPs %d with 3 anchors, %d without; attn1 %d against %d (want 4×: its own keys and 3 anchors')", anch, plain, extra, base)
	}
}
