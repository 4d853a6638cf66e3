package train

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/clockwork-go/clockwork/internal/provenance"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// tinyConfigDir writes the small 3-channel model of the command tests.
func tinyConfigDir(t *testing.T) string {
	t.Helper()
	c, _ := unet.ConfigFrom("mnist_tiny")
	c.InChannels, c.OutChannels = 3, 3
	five := 5
	c.NumClassEmbeds = &five
	m, _ := unet.New(c, 0)
	dir := filepath.Join(t.TempDir(), "cfg")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runCmd runs the command and returns its exit code, stdout and stderr.
func runCmd(args ...string) (int, string, string) {
	var so, se bytes.Buffer
	code := run(context.Background(), append(args, "-quiet"), &so, &se)
	return code, so.String(), se.String()
}

// newRun trains a tiny run of steps steps, a checkpoint after each, into a
// new directory.
func newRun(t *testing.T, steps int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run")
	if code, _, se := runCmd("-out", out, "-config", tinyConfigDir(t), "-data", "shapes:64", "-steps", strconv.Itoa(steps), "-batch", "4", "-sample-every", "0", "-checkpoint-every", "1"); code != 0 {
		t.Fatalf("exit %d: %s", code, se)
	}
	if runs, err := provenance.Runs(out); err != nil || len(runs) != 1 || runs[0].CommandLine[0] != "train" || runs[0].End == nil {
		t.Errorf("provenance of the run: %+v, %v", runs, err)
	}
	return out
}

// TestTrainResumesAfterCrashBeforeLatest: a run killed after its first
// checkpoint was complete but before latest was written could neither be
// resumed ("has no checkpoint") nor restarted; -resume now continues from
// the newest complete checkpoint and says so.
func TestTrainResumesAfterCrashBeforeLatest(t *testing.T) {
	out := newRun(t, 1)
	os.Remove(filepath.Join(out, train.CheckpointDir, train.LatestFile))
	code, so, se := runCmd("-out", out, "-data", "shapes:64", "-resume", "-steps", "2")
	if code != 0 || !strings.Contains(so, "note:") || !strings.Contains(so, "no latest file") || !strings.Contains(so, "resuming "+out+" at step 1 of 2") {
		t.Fatalf("exit %d: %s%s", code, so, se)
	}
	if l, err := train.Latest(out); err != nil || filepath.Base(l) != train.StepName(2) {
		t.Errorf("latest %q, %v", l, err)
	}
}

// TestTrainRefusesSecondWriter: a run directory another process writes is
// refused with the holder's process id and the lock, before anything is
// written (two runs started together used to interleave; one died with a
// raw file error and left its metrics behind).
func TestTrainRefusesSecondWriter(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	unlock, err := fsutil.Lock(out)
	if err != nil {
		t.Fatal(err)
	}
	code, _, se := runCmd("-out", out, "-config", tinyConfigDir(t), "-data", "shapes:64", "-steps", "1", "-batch", "4", "-sample-every", "0")
	unlock()
	if code != 1 || !strings.Contains(se, "in use by process "+strconv.Itoa(os.Getpid())) || !strings.Contains(se, filepath.Join(out, fsutil.LockFile)) {
		t.Errorf("second writer: exit %d, %s", code, se)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Errorf("the refused run wrote into %s: %v", out, entries)
	}
}

// TestTrainResumeChecks: a resume checks the data, the step count and the
// checkpoint it continues from.
func TestTrainResumeChecks(t *testing.T) {
	out := newRun(t, 2)
	// Other data than the run's: an error, unless forced.
	code, _, se := runCmd("-out", out, "-data", "shapes:48", "-resume", "-steps", "3")
	if code != 1 || !strings.Contains(se, "was trained on shapes:64") || !strings.Contains(se, "shapes:48") || !strings.Contains(se, "give -data shapes:64") {
		t.Errorf("other data: exit %d, %s", code, se)
	}
	// Fewer steps than done: an error, not "done".
	code, so, se := runCmd("-out", out, "-data", "shapes:64", "-resume", "-steps", "1")
	if code != 2 || !strings.Contains(se, "-steps 1: the run in "+out+" is already at step 2") || strings.Contains(so, "done") {
		t.Errorf("past the steps: exit %d, %s%s", code, so, se)
	}
	code, so, se = runCmd("-out", out, "-resume") // -data: the run's own
	if code != 0 || !strings.Contains(so, "nothing to train") || strings.Contains(so, "done:") {
		t.Errorf("at the steps: exit %d, %s%s", code, so, se)
	}
	// A damaged latest checkpoint names the file and the way out.
	ck := filepath.Join(out, train.CheckpointDir, train.StepName(2))
	path := filepath.Join(ck, "state.json")
	b, _ := os.ReadFile(path)
	var st map[string]any
	json.Unmarshal(b, &st)
	st["pos"] = -8 // today's loader panicked on it
	b, _ = json.Marshal(st)
	os.WriteFile(path, b, 0o644)
	code, _, se = runCmd("-out", out, "-data", "shapes:64", "-resume", "-steps", "3")
	if code != 1 || !strings.Contains(se, path) || !strings.Contains(se, "-resume -from 1") {
		t.Errorf("damaged latest: exit %d, %s", code, se)
	}
	code, so, se = runCmd("-out", out, "-data", "shapes:64", "-resume", "-from", "1", "-steps", "3")
	if code != 0 || !strings.Contains(so, "removed checkpoints "+train.StepName(2)) || !strings.Contains(so, "done: 3 steps") {
		t.Errorf("-from 1: exit %d, %s%s", code, so, se)
	}
	code, so, se = runCmd("-out", out, "-data", "shapes:48", "-resume", "-force", "-steps", "4")
	if code != 0 || !strings.Contains(so, "on other data") {
		t.Errorf("forced other data: exit %d, %s%s", code, so, se)
	}
}

// TestTrainFlagMessages: flags are checked, with messages naming them,
// before the run directory is created; sizes that cannot fit in memory are
// refused with the estimate.
func TestTrainFlagMessages(t *testing.T) {
	file := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(file, []byte("mine"), 0o644)
	wide := filepath.Join(t.TempDir(), "wide.json")
	os.WriteFile(wide, []byte(`{"in_channels": 3, "out_channels": 3, "sample_size": 32, "block_out_channels": [1073741824, 1073741824], "down_block_types": ["DownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "UpBlock2D"], "norm_num_groups": 8}`), 0o644)
	fresh := filepath.Join(t.TempDir(), "fresh")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-out", file, "-resume", "-data", "shapes:64"}, 2, "-out " + file + " is a file, not a directory"},
		{[]string{"-out", file, "-data", "shapes:64"}, 2, "is a file, not a directory"},
		{[]string{"-out", fresh, "-from", "3", "-data", "shapes:64"}, 2, "-from and -force go with -resume"},
		{[]string{"-out", fresh, "-data", "shapes:64", "-config", wide}, 1, "block_out_channels [1073741824 1073741824]"},
		{[]string{"-out", fresh, "-data", "shapes:64", "-config", tinyConfigDir(t), "-batch", "1099511627776"}, 1, "-batch 1099511627776"},
		{[]string{"-out", fresh, "-data", "shapes:1000000000000"}, 1, `data "shapes:1000000000000"`},
		{[]string{"-out", fresh, "-data", "shapes:64", "-lr", "-1"}, 1, "learning rate"},
		{[]string{"-out", fresh, "-resume", "-data", "shapes:64"}, 1, "no checkpoint"},
	} {
		code, _, se := runCmd(c.args...)
		if code != c.code || !strings.Contains(se, c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se, c.code, c.want)
		}
		if c.code == 1 && (strings.Contains(c.want, "shapes:1000000000000") || strings.Contains(c.want, "1073741824") || strings.Contains(c.want, "1099511627776")) && !strings.Contains(se, "needs about") {
			t.Errorf("%v: no memory estimate in %q", c.args, se)
		}
	}
	if b, _ := os.ReadFile(file); string(b) != "mine" {
		t.Errorf("%s was changed", file)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("failed runs created %s", fresh)
	}
}
