package cli

import (
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// Claim takes a run directory for this process: it locks dir (creating
// it), so that a second command on it stops with an error naming the
// holder. release unlocks it; abandon, for a command that fails before
// writing anything, also removes the directory when Claim created it.
func Claim(dir string) (release, abandon func(), err error) {
	_, statErr := os.Stat(dir)
	created := statErr != nil
	unlock, err := fsutil.Lock(dir)
	if err != nil {
		return nil, nil, err
	}
	abandon = func() {
		unlock()
		if created {
			os.Remove(filepath.Join(dir, fsutil.LockFile))
			os.Remove(dir)
		}
	}
	return unlock, abandon, nil
}
