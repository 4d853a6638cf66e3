package fsutil

import (
	"errors"
	"os"
	"path/filepath"
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
}
