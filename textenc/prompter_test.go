package textenc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestClauses: a Prompter of two clauses cuts prompts at "and", pads the
// missing clause with the empty prompt, encodes each clause alone, counts
// one encoder pass per clause, and keeps its clauses through Save and
// LoadPrompter; a prompt of more clauses and a bad clauses.json are
// errors naming them.
func TestClauses(t *testing.T) {
	tok, err := NewTokenizer([]string{"make", "it", "thicker", "and", "move", "up"})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := New(ToyConfig(tok.Size(), 16, 6), 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPrompter(enc, tok)
	if err != nil {
		t.Fatal(err)
	}
	whole := p.FLOPs()
	p.Clauses = 2
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Make it thicker and move it up", []string{"make it thicker", "move it up"}},
		{"make it thicker", []string{"make it thicker", ""}},
		{"", []string{"", ""}},
	} {
		got, err := p.Split(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := p.Split("make it thicker and move it up and move it up"); err == nil || !strings.Contains(err.Error(), "2 clauses") {
		t.Errorf("three clauses: %v", err)
	}
	if p.Tokens() != 12 || p.FLOPs() != 2*whole {
		t.Errorf("tokens %d, FLOPs %d (whole prompt %d)", p.Tokens(), p.FLOPs(), whole)
	}
	ids, err := p.IDs([]string{"make it thicker and move it up"})
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := tok.Encode([]string{"make it thicker", "move it up"}, 6)
	if !slices.Equal(ids, a) {
		t.Errorf("ids %v, want %v", ids, a)
	}
	e, err := p.Embed([]string{"make it thicker and move it up", "make it thicker"})
	if err != nil {
		t.Fatal(err)
	}
	v := e.Float32s()
	fresh, err := NewPrompter(enc, tok) // whole prompts, its own cache
	if err != nil {
		t.Fatal(err)
	}
	one, _ := fresh.Embed([]string{"make it thicker"})
	if e.Shape()[1] != 12 || !slices.Equal(v[:6*16], one.Float32s()) {
		t.Errorf("embedding of shape %v; the first clause is not encoded alone", e.Shape())
	}
	if f, err := p.DistinctFLOPs([]string{"make it thicker and move it up", "make it thicker", ""}); err != nil || f != 3*whole {
		t.Errorf("three distinct clauses (and the empty one): %d FLOPs (%v), want %d", f, err, 3*whole)
	}
	empty, _ := p.Embed([]string{""})
	if !slices.Equal(v[len(v)/2+6*16:], empty.Float32s()[6*16:]) {
		t.Error("a missing clause is not the empty prompt's encoding")
	}

	dir := t.TempDir()
	if err := p.Save(dir); err != nil {
		t.Fatal(err)
	}
	q, err := LoadPrompter(dir)
	if err != nil || q.Clauses != 2 {
		t.Fatalf("loaded: %v, clauses %d", err, q.Clauses)
	}
	for _, bad := range []string{`{"clauses": 0}`, `{"clauses": 2, "separator": ";"}`, `{`} {
		os.WriteFile(filepath.Join(dir, ClausesFile), []byte(bad), 0o644)
		if _, err := LoadPrompter(dir); err == nil || !strings.Contains(err.Error(), ClausesFile) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	p.Clauses = 0
	if err := p.Save(dir); err != nil { // over the one that read clauses
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ClausesFile)); err == nil {
		t.Error("a whole-prompt encoder left clauses.json")
	}
}
