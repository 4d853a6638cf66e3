package clockwork

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/modeltest"
	"github.com/clockwork-go/clockwork/study"
)

func runCmd(args ...string) (int, string, string) {
	var so, se bytes.Buffer
	code := run(context.Background(), args, &so, &se)
	return code, so.String(), se.String()
}

func results(t *testing.T, dir string) map[string]string {
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

// TestClockworkStudy: the quick study on a tiny teacher writes its
// summary, tables and figures; a rerun reuses everything; shards merged
// and an interrupted run resumed give the same cells, except for the
// wall-time measurements.
func TestClockworkStudy(t *testing.T) {
	teacher := modeltest.Dir(t, 1)
	root := t.TempDir()
	adaptors := filepath.Join(root, "adaptors")
	args := func(out string, extra ...string) []string {
		return append([]string{"-model", teacher, "-out", out, "-adaptors", adaptors, "-n", "6", "-epochs", "1", "-trajectories", "4",
			"-time-rounds", "1", "-time-batch", "6", "-batch", "6", "-quiet"}, extra...)
	}
	whole := filepath.Join(root, "whole")
	code, so, se := runCmd(args(whole)...)
	if code != 0 || !strings.Contains(so, "summary.md") {
		t.Fatalf("exit %d: %s %s", code, so, se)
	}
	for _, f := range []string{"summary.md", "tables.md", "results.csv", "pareto_flops_fid.png", "pareto_time_fid.pdf", "samples.png", "distill_curves.png"} {
		if _, err := os.Stat(filepath.Join(whole, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	sum, _ := os.ReadFile(filepath.Join(whole, "summary.md"))
	for _, want := range []string{"fewer FLOPs than the teacher", "identity adaptor", "the teacher at ", "UNet-light"} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	want := results(t, whole)
	if len(want) < 7 {
		t.Errorf("%d cells, want the teacher, 4 adaptors and at least 2 fewer-step teachers", len(want))
	}
	all := fmt.Sprintf("%d of %d cells", len(want), len(want))
	// A second run finds everything done.
	if code, so, _ := runCmd(args(whole)...); code != 0 || !strings.Contains(so, all) {
		t.Errorf("rerun: %s", so)
	}
	// Shards, merged; then a directory stopped after one shard, resumed.
	var shards []string
	for _, s := range []string{"0/2", "1/2"} {
		d := filepath.Join(root, "shard"+s[:1])
		if code, _, se := runCmd(args(d, "-shard", s)...); code != 0 {
			t.Fatalf("shard %s: %s", s, se)
		}
		shards = append(shards, d)
	}
	merged := filepath.Join(root, "merged")
	if code, so, se := runCmd(append([]string{"-merge", "-out", merged}, shards...)...); code != 0 || !strings.Contains(so, all) {
		t.Fatalf("merge: %s %s", so, se)
	}
	if code, _, se := runCmd(args(shards[0])...); code != 0 {
		t.Fatalf("resume: %s", se)
	}
	for _, dir := range []string{merged, shards[0]} {
		got := results(t, dir)
		if len(got) != len(want) {
			t.Errorf("%s: %d cells, want %d", dir, len(got), len(want))
		}
		for k := range want {
			if _, ok := got[k]; !ok {
				t.Errorf("%s lacks cell %s", dir, k)
			}
		}
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{args(whole, "-shard", "2/2"), 2, "0 ≤ i < n"},
		{args(whole, "-n", "7"), 1, "other settings"},
		{args(whole, "stray"), 2, "unexpected argument"},
		{[]string{"-merge", "-out", filepath.Join(root, "m2")}, 2, "directories to merge"},
		{[]string{"-model", filepath.Join(root, "none"), "-out", filepath.Join(root, "x")}, 1, "config.json"},
	} {
		code, _, se := runCmd(c.args...)
		if code != c.code || !strings.Contains(se, c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se, c.code, c.want)
		}
	}
}
