package provenance

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBeginEnd: each invocation appends a record with its command line, Go
// version, platform and machine, and its end is stamped when it ends; the
// summary section lists them.
func TestBeginEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	end, err := Begin(dir, New("train", []string{"-steps", "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := end(); err != nil {
		t.Fatal(err)
	}
	if _, err := Begin(dir, New("train", []string{"-resume"})); err != nil {
		t.Fatal(err)
	}
	runs, err := Runs(dir)
	if err != nil || len(runs) != 2 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
	r := runs[0]
	if strings.Join(r.CommandLine, " ") != "train -steps 3" || r.GoVersion != runtime.Version() || r.Platform != runtime.GOOS+"/"+runtime.GOARCH || r.Cores != runtime.NumCPU() || r.CPU == "" {
		t.Errorf("record %+v", r)
	}
	if r.End == nil || r.End.Before(r.Start) || runs[1].End != nil {
		t.Errorf("ends %v, %v", r.End, runs[1].End)
	}
	// Tests run from a git checkout: the revision comes from git, as for
	// go run, whose binaries carry no VCS stamp.
	if r.Revision == "" || r.RevisionFrom == "" {
		t.Logf("no revision (not in a git checkout?): %+v", r)
	}
	sec := Section(dir)
	if !strings.Contains(sec, "## Provenance") || !strings.Contains(sec, "`train -steps 3`") || !strings.Contains(sec, "`train -resume`") || !strings.Contains(sec, "ended ") {
		t.Errorf("section %q", sec)
	}
	os.WriteFile(filepath.Join(dir, File), []byte("{"), 0o644)
	if _, err := Begin(dir, New("train", nil)); err == nil || !strings.Contains(err.Error(), File) {
		t.Errorf("a damaged provenance.json: %v", err)
	}
	if Section(t.TempDir()) != "" {
		t.Error("a directory without records has a section")
	}
}
