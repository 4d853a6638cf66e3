package train

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
)

// twoCheckpoints runs the counter for 4 steps (checkpoints at 2 and 4) in a
// new run directory.
func twoCheckpoints(t *testing.T) (string, *counter) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	c := newCounter()
	if err := c.loop(dir, 4).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir, c
}

// TestFindAdoptsNewestComplete: a run killed after its checkpoint was
// complete but before latest named it, or whose latest names a checkpoint
// that is incomplete, continues from its newest complete checkpoint, and
// says so; a run that continues from it makes it the latest and drops the
// incomplete later one.
func TestFindAdoptsNewestComplete(t *testing.T) {
	names := newCounter().checkpoint().Names()
	dir, _ := twoCheckpoints(t)
	latest := filepath.Join(dir, CheckpointDir, LatestFile)
	os.Remove(latest)
	ck, note, err := Find(dir, -1, names...)
	if err != nil || filepath.Base(ck) != StepName(4) || !strings.Contains(note, "no latest file") || !strings.Contains(note, StepName(4)) {
		t.Fatalf("latest missing: %q, %q, %v", ck, note, err)
	}
	// latest names step 2, but step 4 was renamed into place before a
	// crash: step 4 is adopted.
	writeLatest(filepath.Join(dir, CheckpointDir), StepName(2))
	ck, note, err = Find(dir, -1, names...)
	if err != nil || filepath.Base(ck) != StepName(4) || !strings.Contains(note, "step-00000004 after it is complete") {
		t.Fatalf("latest behind: %q, %q, %v", ck, note, err)
	}
	// latest names step 4, which lost a part: step 2 is adopted.
	writeLatest(filepath.Join(dir, CheckpointDir), StepName(4))
	os.Remove(filepath.Join(dir, CheckpointDir, StepName(4), "adam.npz"))
	ck, note, err = Find(dir, -1, names...)
	if err != nil || filepath.Base(ck) != StepName(2) || !strings.Contains(note, "lacks adam.npz") {
		t.Fatalf("latest incomplete: %q, %q, %v", ck, note, err)
	}
	c := newCounter()
	if err := c.checkpoint().Load(ck); err != nil {
		t.Fatal(err)
	}
	var notes []string
	l := c.loop(dir, 5)
	l.Note = func(s string) { notes = append(notes, s) }
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "removed checkpoints "+StepName(4)) {
		t.Errorf("notes %q", notes)
	}
	if l, err := Latest(dir); err != nil || filepath.Base(l) != StepName(5) {
		t.Errorf("latest after the resumed run: %q, %v", l, err)
	}
	// -from: an explicit step, which must be complete.
	if _, _, err := Find(dir, 3, names...); err == nil || !strings.Contains(err.Error(), "no complete checkpoint at step 3") {
		t.Errorf("from a missing step: %v", err)
	}
	if _, _, err := Find(t.TempDir(), -1, names...); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty run: %v", err)
	}
}

// TestLoadVerifies: a checkpoint whose state disagrees with its directory's
// name, or whose optimiser state is partial or misshapen, is an error naming
// the file; Damaged names the earlier checkpoint to continue from.
func TestLoadVerifies(t *testing.T) {
	dir, _ := twoCheckpoints(t)
	four := filepath.Join(dir, CheckpointDir, StepName(4))
	load := func() error {
		c := newCounter()
		ck := c.checkpoint()
		ck.Step = func() int { return c.step }
		return ck.Load(four)
	}
	if err := load(); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(four, "state.json")
	good, _ := os.ReadFile(state)
	os.WriteFile(state, []byte(strings.Replace(string(good), `"step": 4`, `"step": 6`, 1)), 0o644)
	if err := load(); err == nil || !strings.Contains(err.Error(), "step 6 disagrees") || !strings.Contains(err.Error(), "state.json") {
		t.Errorf("step disagreeing with the directory: %v", err)
	}
	os.WriteFile(state, good, 0o644)
	adam := filepath.Join(four, "adam.npz")
	arrays, _ := npzio.Read(adam)
	// Moments of the wrong shape (same size).
	m := arrays["m/w"]
	m.Shape = []int{3, 1}
	npzio.Write(adam, []string{"m/w", "v/w"}, map[string]npzio.Array{"m/w": m, "v/w": arrays["v/w"]})
	if err := load(); err == nil || !strings.Contains(err.Error(), `"m/w" is float32 [3 1], want float32 [3]`) {
		t.Errorf("misshapen moments: %v", err)
	}
	// No moments at all after 4 steps.
	npzio.Write(adam, nil, map[string]npzio.Array{})
	err := load()
	if err == nil || !strings.Contains(err.Error(), `no moments for parameter "w" after 4 optimiser steps`) {
		t.Errorf("missing moments: %v", err)
	}
	err = Damaged(dir, four, err, newCounter().checkpoint().Names(), nil)
	if !strings.Contains(err.Error(), "adam.npz") || !strings.Contains(err.Error(), "-resume -from 2") {
		t.Errorf("damaged: %v", err)
	}
}

// TestLoopPastStepsIsAnError: asking a run that is past it for fewer steps
// is an error, not a silent success.
func TestLoopPastStepsIsAnError(t *testing.T) {
	dir, c := twoCheckpoints(t)
	if err := c.loop(dir, 3).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "nothing to train") {
		t.Errorf("a run at step 4 asked for 3: %v", err)
	}
}

// TestLoopRefusesSecondWriter: while another process holds a run
// directory's lock, a loop is refused with a message naming the holder's
// process id and the lock file, before it writes anything; once that
// process is dead (killed: its lock file stays, naming it), the lock is
// free again.
func TestLoopRefusesSecondWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "CLOCKWORK_HOLD_LOCK="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	c := newCounter()
	err = c.loop(dir, 2).Run(context.Background())
	pid := strconv.Itoa(cmd.Process.Pid)
	if !errors.Is(err, fsutil.ErrLocked) || !strings.Contains(err.Error(), "process "+pid) || !strings.Contains(err.Error(), filepath.Join(dir, fsutil.LockFile)) {
		t.Fatalf("second writer: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, MetricsFile)); err == nil {
		t.Error("the refused loop wrote metrics")
	}
	cmd.Process.Kill() // as kill -9 would
	cmd.Wait()
	stdin.Close()
	if b, _ := os.ReadFile(filepath.Join(dir, fsutil.LockFile)); strings.TrimSpace(string(b)) != pid {
		t.Errorf("lock file %q, want the dead holder's pid %s", b, pid)
	}
	if err := c.loop(dir, 2).Run(context.Background()); err != nil {
		t.Errorf("after the holder died: %v", err)
	}
}

// TestHelperHoldLock is the second process of TestLoopRefusesSecondWriter:
// it locks the directory and waits until killed.
func TestHelperHoldLock(t *testing.T) {
	dir := os.Getenv("CLOCKWORK_HOLD_LOCK")
	if dir == "" {
		t.Skip("helper process")
	}
	if _, err := fsutil.Lock(dir); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}
