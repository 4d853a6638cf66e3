package study

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type spec struct{ A, B int }

func toy(n int) Study {
	s := Study{Name: "toy", Config: map[string]int{"n": n}}
	for i := range n {
		s.Cells = append(s.Cells, Cell{Key: "c" + string(rune('a'+i)), Spec: spec{i, 2 * i}})
	}
	return s
}

func square(c Cell) (any, error) {
	s := c.Spec.(spec)
	return map[string]int{"sq": s.A * s.B}, nil
}

// results returns key → result of a directory, the order of its records.
func results(t *testing.T, dir string) (map[string]string, []string) {
	t.Helper()
	_, recs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	var order []string
	for _, r := range recs {
		m[r.Key] = string(r.Result)
		order = append(order, r.Key)
	}
	return m, order
}

// TestResumeAfterKill: a study stopped after three cells, with a half-written
// line left behind, resumes and ends with the cells of an uninterrupted run.
func TestResumeAfterKill(t *testing.T) {
	full := t.TempDir()
	if _, err := Run(context.Background(), toy(7), Options{Dir: full}, square); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := Run(ctx, toy(7), Options{Dir: dir}, func(c Cell) (any, error) {
		n++
		if n == 3 {
			cancel()
		}
		return square(c)
	})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted: %v", err)
	}
	f, _ := os.OpenFile(filepath.Join(dir, ResultsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"key":"cd","cell":{"A":3`) // a crash mid-write
	f.Close()
	ran := 0
	if _, err := Run(context.Background(), toy(7), Options{Dir: dir}, func(c Cell) (any, error) { ran++; return square(c) }); err != nil {
		t.Fatal(err)
	}
	if ran != 4 {
		t.Errorf("the resumed run ran %d cells, want the 4 missing", ran)
	}
	a, _ := results(t, full)
	b, order := results(t, dir)
	if len(a) != 7 || !equal(a, b) {
		t.Errorf("resumed study %v, uninterrupted %v", b, a)
	}
	if !slices.Equal(order, []string{"ca", "cb", "cc", "cd", "ce", "cf", "cg"}) {
		t.Errorf("order %v", order)
	}
	// A third run has nothing to do.
	if _, err := Run(context.Background(), toy(7), Options{Dir: dir}, func(c Cell) (any, error) {
		t.Fatal("a finished study ran a cell")
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestShardsMerge: shards 0/3, 1/3, 2/3 run apart and merged equal the
// unsharded study, in its order.
func TestShardsMerge(t *testing.T) {
	full := t.TempDir()
	if _, err := Run(context.Background(), toy(8), Options{Dir: full}, square); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for i := range 3 {
		d := t.TempDir()
		if _, err := Run(context.Background(), toy(8), Options{Dir: d, Shard: Shard{i, 3}}, square); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	out := filepath.Join(t.TempDir(), "merged")
	var keys []string
	for _, c := range toy(8).Cells {
		keys = append(keys, c.Key)
	}
	if _, _, err := Merge(out, []string{dirs[2], dirs[0], dirs[1]}, keys, nil); err != nil {
		t.Fatal(err)
	}
	a, ao := results(t, full)
	b, bo := results(t, out)
	if !equal(a, b) || !slices.Equal(ao, bo) {
		t.Errorf("merged %v (%v), unsharded %v (%v)", b, bo, a, ao)
	}
}

// TestStudyErrors: another study or other settings in the directory, a
// malformed shard, a merge of different studies, a second writer.
func TestStudyErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), toy(3), Options{Dir: dir}, square); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, ResultsFile))
	if _, err := Run(context.Background(), toy(4), Options{Dir: dir}, square); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("other settings: %v", err)
	}
	other := toy(3)
	other.Name = "other"
	if _, err := Run(context.Background(), other, Options{Dir: dir}, square); err == nil || !strings.Contains(err.Error(), `"toy" study`) {
		t.Errorf("another study: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, ResultsFile))
	if string(before) != string(after) {
		t.Error("a refused run changed results.jsonl")
	}
	for _, v := range []string{"3/3", "-1/2", "1", "a/b", "0/0", ""} {
		if _, err := ParseShard(v); err == nil {
			t.Errorf("shard %q accepted", v)
		}
	}
	if s, err := ParseShard("2/5"); err != nil || s != (Shard{2, 5}) {
		t.Errorf("2/5: %v %v", s, err)
	}
	d4 := t.TempDir()
	Run(context.Background(), toy(4), Options{Dir: d4}, square)
	if _, _, err := Merge(filepath.Join(t.TempDir(), "m"), []string{dir, d4}, nil, nil); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("merge of different settings: %v", err)
	}
	if _, _, err := Merge(t.TempDir(), []string{t.TempDir()}, nil, nil); err == nil {
		t.Error("merge of a directory without a study accepted")
	}
	dup := toy(2)
	dup.Cells[1].Key = dup.Cells[0].Key
	if _, err := Run(context.Background(), dup, Options{Dir: t.TempDir()}, square); err == nil {
		t.Error("duplicate keys accepted")
	}
	// A results line that is not a record (not a cut-short last line) is an error.
	bad := t.TempDir()
	Run(context.Background(), toy(2), Options{Dir: bad}, square)
	os.WriteFile(filepath.Join(bad, ResultsFile), []byte("garbage\n"), 0o644)
	if _, err := Run(context.Background(), toy(2), Options{Dir: bad}, square); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("garbage results: %v", err)
	}
	var m Manifest
	b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if json.Unmarshal(b, &m) != nil || m.Cells != 3 || m.Study != "toy" {
		t.Errorf("manifest %s", b)
	}
}

// TestOneWriter: a second run into a directory a run holds is refused with
// the holder's process id.
func TestOneWriter(t *testing.T) {
	dir := t.TempDir()
	_, err := Run(context.Background(), toy(2), Options{Dir: dir}, func(c Cell) (any, error) {
		_, err := Run(context.Background(), toy(2), Options{Dir: dir}, square)
		if err == nil || !strings.Contains(err.Error(), "in use by process") {
			t.Errorf("second writer: %v", err)
		}
		return square(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestForeignResults: results copied from a study of other settings into a
// finished study's directory (cell keys that exist in both) are refused by
// a rerun, by Pending, by Load and by Merge, naming the file and the line,
// instead of resuming on them (issue 26, case 1).
func TestForeignResults(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	small := Study{Name: "toy", Config: map[string]int{"n": 4}, Cells: toy(2).Cells}
	if _, err := Run(context.Background(), small, Options{Dir: a}, square); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), toy(5), Options{Dir: b}, square); err != nil {
		t.Fatal(err)
	}
	foreign, err := os.ReadFile(filepath.Join(a, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(b, ResultsFile)
	if err := os.WriteFile(path, foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{path, "line 1", "cell ca", "copied or appended from elsewhere"}
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: foreign results accepted", what)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", what, err, w)
			}
		}
	}
	_, err = Run(context.Background(), toy(5), Options{Dir: b}, square)
	check("rerun", err)
	_, err = Pending(toy(5), b, All)
	check("Pending", err)
	_, _, err = Load(b)
	check("Load", err)
	_, _, err = Merge(t.TempDir(), []string{b}, nil, nil)
	check("Merge", err)
	if after, _ := os.ReadFile(path); string(after) != string(foreign) {
		t.Error("the refused file was changed")
	}
	// A line without a study hash (an older version's) is refused too.
	os.WriteFile(path, []byte(`{"key":"ca","cell":{},"result":{},"seconds":1}`+"\n"), 0o644)
	if _, _, err := Load(b); err == nil || !strings.Contains(err.Error(), "no study_hash") {
		t.Errorf("a record without a study hash: %v", err)
	}
}
