package perturb

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/modeltest"
	"github.com/clockwork-go/clockwork/study"
)

func small(model, out string, extra ...string) []string {
	return append([]string{"-model", model, "-out", out, "-taps", "conv_in,mid_block,up_blocks.2", "-k", "0,2", "-a", "0.3", "-n", "4", "-steps", "3", "-batch", "3", "-quiet"}, extra...)
}

// cells returns key → result of a study directory (timings left out).
func cells(t *testing.T, dir string) map[string]string {
	t.Helper()
	_, recs, err := study.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range recs {
		out[r.Key] = string(r.Result)
	}
	return out
}

func same(a, b map[string]string) bool {
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

func runCmd(t *testing.T, args ...string) (int, string, string) {
	var so, se bytes.Buffer
	code := run(context.Background(), args, &so, &se)
	return code, so.String(), se.String()
}

// TestStudyResumesAndMerges: an uninterrupted study; one stopped part-way
// (a shard's cells and a line cut short) and rerun; three shards merged:
// all hold the same cells with the same results.
func TestStudyResumesAndMerges(t *testing.T) {
	model := modeltest.Dir(t, 1)
	root := t.TempDir()
	whole := filepath.Join(root, "whole")
	if code, so, se := runCmd(t, small(model, whole)...); code != 0 || !strings.Contains(so, "summary.md") {
		t.Fatalf("exit %d: %s %s", code, so, se)
	}
	want := cells(t, whole)
	if len(want) != 7 {
		t.Fatalf("%d cells, want 1 reference + 3 taps × 2 k", len(want))
	}
	for _, f := range []string{"summary.md", "results.csv", "l2_vs_k-dpmpp2m.png", "heatmap_flip-dpmpp2m.pdf", "grid-dpmpp2m-0.png", "provenance.json"} {
		if _, err := os.Stat(filepath.Join(whole, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	if sum, _ := os.ReadFile(filepath.Join(whole, "summary.md")); !strings.Contains(string(sum), "## Provenance") || !strings.Contains(string(sum), "`perturb -model") {
		t.Error("summary.md says nothing of what made it")
	}
	// Stopped part-way: only some cells, and a half-written line.
	part := filepath.Join(root, "part")
	if code, _, se := runCmd(t, small(model, part, "-shard", "1/2")...); code != 0 {
		t.Fatalf("shard: %s", se)
	}
	f, _ := os.OpenFile(filepath.Join(part, study.ResultsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"key":"dpmpp2m/mid_block/k0/a0.3","cell":{"sampler":"dpm`)
	f.Close()
	if code, _, se := runCmd(t, small(model, part)...); code != 0 {
		t.Fatalf("resume: %s", se)
	}
	if got := cells(t, part); !same(got, want) {
		t.Errorf("resumed study differs from the uninterrupted one:\n%v\n%v", got, want)
	}
	var shards []string
	for _, s := range []string{"0/3", "1/3", "2/3"} {
		d := filepath.Join(root, "shard"+s[:1])
		if code, _, se := runCmd(t, small(model, d, "-shard", s)...); code != 0 {
			t.Fatalf("shard %s: %s", s, se)
		}
		shards = append(shards, d)
	}
	merged := filepath.Join(root, "merged")
	if code, so, se := runCmd(t, append([]string{"-merge", "-out", merged}, shards...)...); code != 0 || !strings.Contains(so, "7 of 7 cells") {
		t.Fatalf("merge: exit %d: %s %s", code, so, se)
	}
	if got := cells(t, merged); !same(got, want) {
		t.Errorf("merged shards differ from the unsharded study")
	}
	a, _ := os.ReadFile(filepath.Join(whole, "results.csv"))
	b, _ := os.ReadFile(filepath.Join(merged, "results.csv"))
	if !bytes.Equal(a, b) {
		t.Errorf("results.csv differs:\n%s\n%s", a, b)
	}
}

// TestPerturbErrors: bad flags are refused with a clear message before any
// file is touched, and a refused run leaves the study directory as it was.
func TestPerturbErrors(t *testing.T) {
	model := modeltest.Dir(t, 1)
	out := filepath.Join(t.TempDir(), "study")
	if code, _, se := runCmd(t, small(model, out)...); code != 0 {
		t.Fatal(se)
	}
	before, _ := os.ReadFile(filepath.Join(out, study.ResultsFile))
	other := filepath.Join(t.TempDir(), "other")
	if code, _, se := runCmd(t, small(model, other, "-n", "5")...); code != 0 {
		t.Fatal(se)
	}
	adaptorDir := t.TempDir()
	os.WriteFile(filepath.Join(adaptorDir, "adaptor.json"), []byte("{}"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{small(model, out, "-taps", "up_blocks.7"), 2, "the model's taps are [conv_in"},
		{small(model, out, "-k", "0,3"), 2, "k = 0 to 2"},
		{small(model, out, "-a", "1.5"), 2, "[0, 1]"},
		{small(model, out, "-a", "NaN"), 2, "not a number"},
		{small(model, out, "-shard", "2/2"), 2, "0 ≤ i < n"},
		{small(model, out, "-shard", "x"), 2, "i/n"},
		{small(model, out, "-n", "5"), 1, "other settings"},
		{small(model, out, "extra"), 2, "unexpected argument"},
		{[]string{"-merge", "-out", filepath.Join(t.TempDir(), "m"), out, other}, 1, "other settings"},
		{[]string{"-merge", "-out", filepath.Join(t.TempDir(), "m")}, 2, "directories to merge"},
		{[]string{"-merge", "-out", filepath.Join(t.TempDir(), "m"), t.TempDir()}, 1, "study.json"},
		{small(filepath.Join(t.TempDir(), "none"), out), 1, "config.json"},
		// issue 26, case 6: another command's directory
		{small(model, adaptorDir), 1, "holds an adaptor directory (distill); perturb writes a perturb study directory"},
		{small(model, model), 1, "holds a model directory"},
	} {
		code, _, se := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(se, c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se, c.code, c.want)
		}
	}
	after, _ := os.ReadFile(filepath.Join(out, study.ResultsFile))
	if !bytes.Equal(before, after) {
		t.Error("a refused run changed results.jsonl")
	}
	if left, _ := os.ReadDir(adaptorDir); len(left) != 1 {
		t.Errorf("a refused run wrote into the adaptor directory: %v", left)
	}
	var m study.Manifest
	b, _ := os.ReadFile(filepath.Join(out, study.ManifestFile))
	if json.Unmarshal(b, &m) != nil || m.Study != "perturb" {
		t.Errorf("manifest %s", b)
	}
}
