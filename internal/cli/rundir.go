package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// MadeByFile, in a run directory of train or distill, names the command
// that made it; a study directory is named by its study.json.
const MadeByFile = ".made-by"

// Claim takes a run directory for command (train or distill): it checks
// that dir holds no other command's run (CheckRunDir), locks it (creating
// it), so that a second command on it stops with an error naming the
// holder, and marks it as command's (MadeByFile). release unlocks it;
// abandon, for a command that fails before writing anything, also removes
// the directory when Claim created it.
func Claim(dir, command string) (release, abandon func(), err error) {
	if err := CheckRunDir(dir, command); err != nil {
		return nil, nil, err
	}
	_, statErr := os.Stat(dir)
	created := statErr != nil
	unlock, err := fsutil.Lock(dir)
	if err != nil {
		return nil, nil, err
	}
	abandon = func() {
		unlock()
		if created {
			os.Remove(filepath.Join(dir, MadeByFile))
			os.Remove(filepath.Join(dir, fsutil.LockFile))
			os.Remove(dir)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, MadeByFile), []byte(command+"\n"), 0o644); err != nil {
		abandon()
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	return unlock, abandon, nil
}

// CheckRunDir refuses a directory that holds another command's run: a
// study of another name, an adaptor directory, a training run or a model
// directory, for command (train, distill, or a study's name). A directory
// that does not exist, is empty or is command's own passes.
func CheckRunDir(dir, command string) error {
	holds, err := RunDirKind(dir)
	if err != nil || holds == "" || holds == command || holds == "run" && (command == "train" || command == "distill") {
		return err
	}
	return fmt.Errorf("%s holds %s; %s writes %s: choose another directory", dir, describeKind(holds), command, describeKind(command))
}

// RunDirKind names what a directory holds: the command that made it
// (MadeByFile), a study's name (its study.json), "distill" for an adaptor
// directory, "run" for checkpoints without MadeByFile (a training or
// distillation run of an older version), "model" for a model directory,
// "" for a directory that does not exist or holds none of these.
func RunDirKind(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, MadeByFile))
	switch {
	case err == nil:
		return strings.TrimSpace(string(b)), nil
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	if m, err := study.ReadManifest(dir); err == nil {
		return m.Study, nil
	}
	has := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	switch {
	case has(distill.ManifestFile) || has(distill.WeightsFile):
		return "distill", nil
	case has(train.CheckpointDir) || has(train.MetricsFile):
		return "run", nil // train's or distill's, made before MadeByFile
	case has(unet.ConfigFile):
		return "model", nil
	}
	return "", nil
}

func describeKind(k string) string {
	switch k {
	case "distill":
		return "an adaptor directory (distill)"
	case "train":
		return "a training run (train)"
	case "run":
		return "a training or distillation run (checkpoints/)"
	case "model":
		return "a model directory"
	}
	return "a " + k + " study directory"
}
