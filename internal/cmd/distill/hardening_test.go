package distill

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/modeltest"
	"github.com/clockwork-go/clockwork/train"
)

// TestDistillResumeAfterCrashBeforeLatest: a distillation killed after a
// complete checkpoint but before its latest file resumes from its newest
// complete checkpoint and says so; fewer epochs than done is an error; -out
// naming a file is reported as such.
func TestDistillResumeAfterCrashBeforeLatest(t *testing.T) {
	model := modeltest.Dir(t, 1)
	out := filepath.Join(t.TempDir(), "adaptor")
	if code, so, se := runCmd(append([]string{"-model", model, "-out", out}, tiny...)...); code != 0 {
		t.Fatalf("exit %d: %s %s", code, so, se)
	}
	os.Remove(filepath.Join(out, train.CheckpointDir, train.LatestFile))
	code, so, se := runCmd("-model", model, "-out", out, "-resume", "-epochs", "3", "-quiet")
	if code != 0 || !strings.Contains(so, "note:") || !strings.Contains(so, "no latest file") || !strings.Contains(so, "resuming "+out+" at epoch 2 of 3") {
		t.Fatalf("resume without latest: exit %d: %s %s", code, so, se)
	}
	if code, _, se := runCmd("-model", model, "-out", out, "-resume", "-epochs", "1", "-quiet"); code != 2 || !strings.Contains(se, "already at epoch 3") {
		t.Errorf("fewer epochs than done: exit %d, %s", code, se)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if code, _, se := runCmd(append([]string{"-model", model, "-out", file}, tiny...)...); code != 2 || !strings.Contains(se, "is a file, not a directory") {
		t.Errorf("-out a file: exit %d, %s", code, se)
	}
	if code, _, se := runCmd("-model", model, "-out", filepath.Join(t.TempDir(), "none"), "-resume", "-quiet"); code != 1 || !strings.Contains(se, "no checkpoint") {
		t.Errorf("resume of nothing: exit %d, %s", code, se)
	}
}
