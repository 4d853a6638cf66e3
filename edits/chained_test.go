package edits

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/npzio"
)

func TestChainedData(t *testing.T) {
	// Pair i of the train split is the same whatever the number drawn: the
	// first 200 stand for the 60,000 (opened once, through the spec).
	train, err := OpenSplit("train", 200)
	if err != nil {
		t.Fatal(err)
	}
	const per = 32 * 32
	var pairs []int
	for i, p := range train.Phrases()[:40] {
		if strings.Contains(p, " and ") {
			pairs = append(pairs, i)
		}
	}
	src := make([]float32, len(pairs)*per)
	for k := range src {
		src[k] = float32(k%7)/3 - 1 // −1 … 1, and beyond: clipped
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "chained.npz")
	if err := WriteChained(path, pairs, src); err != nil {
		t.Fatal(err)
	}
	d, err := datasets.Open("edits:chained:"+path, "train")
	if err != nil {
		t.Fatal(err)
	}
	n := 60000
	if d.Len() != n+len(pairs) || d.Inputs.Len() != d.Len() || len(d.Captions) != d.Len() {
		t.Fatalf("%d pairs (%d inputs, %d captions), want the train split's %d and %d chained", d.Len(), d.Inputs.Len(), len(d.Captions), n, len(pairs))
	}
	img, in := make([]float32, per), make([]float32, per)
	want := make([]float32, per)
	for k, i := range pairs {
		j := n + k
		c, _ := Clauses(train.Phrases()[i])
		if d.Captions[j] != c[1] || d.Labels[j] != train.Data.Labels[i] {
			t.Fatalf("chained pair %d: caption %q, label %d; want %q, %d", k, d.Captions[j], d.Labels[j], c[1], train.Data.Labels[i])
		}
		d.Image(j, img)
		train.Data.Image(i, want)
		for q := range img {
			if img[q] != want[q] {
				t.Fatalf("chained pair %d: its target is not pair %d's true edit", k, i)
			}
		}
		d.Inputs.Image(j, in)
		for q, v := range in {
			s := min(max(src[k*per+q], -1), 1)
			if math.Abs(float64(v-s)) > 0.5/127.5+1e-6 {
				t.Fatalf("chained pair %d: source value %g read as %g", k, s, v)
			}
		}
	}
	for i := range 40 {
		if d.Captions[i] != train.Phrases()[i] {
			t.Fatalf("pair %d: the train split's pairs come first", i)
		}
	}
	if v, err := datasets.Open("edits:chained:"+path, "val"); err != nil || v.Len() != 10000 {
		t.Fatalf("the validation split of chained data: %v", err)
	}
	// Bad files: named errors.
	write := func(name string, arrays map[string]npzio.Array) string {
		p := filepath.Join(dir, name)
		var order []string
		for k := range arrays {
			order = append(order, k)
		}
		if err := npzio.Write(p, order, arrays); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one := -1
	for i, p := range train.Phrases() {
		if !strings.Contains(p, " and ") {
			one = i
			break
		}
	}
	nan := make([]float32, per)
	nan[5] = float32(math.NaN())
	for _, c := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "none.npz"), "chained pairs"},
		{write("nosrc.npz", map[string]npzio.Array{"pairs": npzio.Int64([]int64{int64(pairs[0])}, 1)}), "want arrays pairs and sources"},
		{write("shape.npz", map[string]npzio.Array{"pairs": npzio.Int64([]int64{int64(pairs[0])}, 1), "sources": npzio.Float32(make([]float32, 2*per), 2, 1, 32, 32)}), "sources of shape"},
		{write("range.npz", map[string]npzio.Array{"pairs": npzio.Int64([]int64{int64(train.Len())}, 1), "sources": npzio.Float32(make([]float32, per), 1, 1, 32, 32)}), "outside the train split"},
		{write("one.npz", map[string]npzio.Array{"pairs": npzio.Int64([]int64{int64(one)}, 1), "sources": npzio.Float32(make([]float32, per), 1, 1, 32, 32)}), "not a two-clause instruction"},
		{write("nan.npz", map[string]npzio.Array{"pairs": npzio.Int64([]int64{int64(pairs[0])}, 1), "sources": npzio.Float32(nan, 1, 1, 32, 32)}), "holds NaN"},
	} {
		if _, err := openChained(c.path, "train", train.Len()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("chained data %q: %v, want an error saying %q", c.path, err, c.want)
		}
	}
	if _, err := datasets.Open("edits:chained:", "train"); err == nil || !strings.Contains(err.Error(), "no file") {
		t.Fatalf("chained data without a file: %v", err)
	}
	if err := WriteChained(path, pairs, src[:per]); err == nil {
		t.Fatal("WriteChained took too few sources")
	}
}
