package fsutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// LockFile is the name of the lock file a writer holds in a directory.
const LockFile = ".lock"

// Lock makes the calling process the one writer of dir (created if needed):
// it takes an exclusive advisory lock on dir/.lock (flock on Unix,
// LockFileEx on Windows, through github.com/gofrs/flock) and writes its
// process id there. The system drops the lock when the process exits,
// however it exits, so a lock left by a dead process is never in the way:
// its file, still naming the dead process, is simply locked again. A second
// writer gets an error that names the lock file and the holder's process id
// (where the system lets a locked file be read). The returned function
// releases the lock.
func Lock(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LockFile)
	fl := flock.New(path, flock.SetFlag(os.O_RDWR|os.O_CREATE))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf("process %d", pid)
			}
		}
		return nil, fmt.Errorf("%s is in use by %s (it holds the lock %s); wait for it to finish or choose another directory: %w", dir, holder, path, ErrLocked)
	}
	os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644) // who holds it, for the message above
	key := heldKey(dir)
	held.Lock()
	held.dirs[key]++
	held.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			held.Lock()
			if held.dirs[key]--; held.dirs[key] <= 0 {
				delete(held.dirs, key)
			}
			held.Unlock()
			fl.Unlock()
		})
	}, nil
}

// held records the directories this process has locked.
var held = struct {
	sync.Mutex
	dirs map[string]int
}{dirs: map[string]int{}}

func heldKey(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return filepath.Clean(dir)
}

// Held reports whether this process holds the lock of dir (taken with Lock
// or LockWait and not yet released). Code that writes a directory on behalf
// of a caller (a training loop) takes the lock itself only when the caller
// does not hold it: a second Lock of the same directory in one process is
// refused, as it would be in another.
func Held(dir string) bool {
	held.Lock()
	defer held.Unlock()
	return held.dirs[heldKey(dir)] > 0
}

// ErrLocked is wrapped by Lock's error when another process holds the lock.
var ErrLocked = errors.New("directory locked by another process")

// LockWait is Lock, waiting while another process holds the lock (a shard
// of a study distilling the adaptor this one needs), until ctx is done.
func LockWait(dir string, ctx context.Context) (unlock func(), err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		unlock, err := Lock(dir)
		if err == nil || !errors.Is(err, ErrLocked) {
			return unlock, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", dir, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
