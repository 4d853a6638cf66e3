package models

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/unet"
)

// TrainedDir is where go run ./experiments/train leaves its EMA model.
var TrainedDir = filepath.Join("runs", "mnist", "model")

// Resolve returns the model directory a command should use: dir when given;
// otherwise runs/mnist/model when it holds a model; otherwise the shipped
// teacher (Teacher), if this build has one. The error says how to get a
// model.
func Resolve(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if _, err := os.Stat(filepath.Join(TrainedDir, unet.ConfigFile)); err == nil {
		return TrainedDir, nil
	}
	if t, err := Teacher(); err == nil {
		return t, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return "", fmt.Errorf("no model: %s does not exist; train one with go run ./experiments/train (about an hour on two cores) or give -model DIR", TrainedDir)
}

// ResolveTeacher returns the teacher a Clockwork command should use: dir
// when given; otherwise the shipped teacher, so that a study reproduces on
// any machine; otherwise runs/mnist/model.
func ResolveTeacher(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if t, err := Teacher(); err == nil {
		return t, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return Resolve("")
}
