package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestLockHeld: a second Lock of a held directory is refused, naming the
// holder and the lock file; Held says which directories this process
// holds; a lock file left by a dead process is no obstacle.
func TestLockHeld(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, LockFile), []byte("999999999\n"), 0o644) // a dead holder's
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatalf("lock left by a dead process: %v", err)
	}
	if !Held(dir) || !Held(dir+"/.") {
		t.Error("Held does not report the lock")
	}
	_, err = Lock(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), filepath.Join(dir, LockFile)) {
		t.Errorf("second lock: %v", err)
	}
	unlock()
	unlock() // releasing twice is harmless
	if Held(dir) {
		t.Error("Held after unlock")
	}
}

func TestCheckOut(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "f")
	os.WriteFile(file, nil, 0o644)
	if err := CheckOutDir("-out", file); err == nil || !strings.Contains(err.Error(), "-out "+file+" is a file") {
		t.Errorf("dir is a file: %v", err)
	}
	if err := CheckOutDir("-out", filepath.Join(tmp, "new")); err != nil {
		t.Errorf("new dir: %v", err)
	}
	if err := CheckOutFile("-out", tmp); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("file is a dir: %v", err)
	}
	if err := CheckOutFile("-out", filepath.Join(file, "x", "y.npz")); err == nil || !strings.Contains(err.Error(), file+" is a file") {
		t.Errorf("file under a file: %v", err)
	}
	if err := CheckOutFile("-out", filepath.Join(tmp, "a", "b.npz")); err != nil {
		t.Errorf("new file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tmp, "new")); err == nil {
		t.Error("a check created a directory")
	}
	// A name ending in a separator is a directory's (issue 26, case 5:
	// "sample -out DIR/" failed after sampling, leaving an empty directory).
	if err := CheckOutFile("-out", filepath.Join(tmp, "d")+string(filepath.Separator)); err == nil || !strings.Contains(err.Error(), "ends in a separator") {
		t.Errorf("file name ending in a separator: %v", err)
	}
	if runtime.GOOS == "linux" { // a directory no one can make files in, even root
		for _, c := range []struct {
			check func(string, string) error
			path  string
		}{{CheckOutFile, "/proc/self/e.json"}, {CheckOutFile, "/proc/self/x/g.png"}, {CheckOutDir, "/proc/self/run"}, {CheckOutDir, "/proc/self"}} {
			if err := c.check("-out", c.path); err == nil || !strings.Contains(err.Error(), "cannot write in /proc/self") {
				t.Errorf("%s: %v", c.path, err)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, ".clockwork-probe-*")); len(left) > 0 {
		t.Errorf("checks left %v", left)
	}
}
