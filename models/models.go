package models

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Resolve returns the model directory a command uses: dir when given, the
// shipped teacher (Teacher) otherwise. It is the toolkit's one rule for the
// default model, so that a command reproduces on any machine: a model of
// your own (the train command's run/model directory) is given with -model.
// The shipped teacher's own path, models/mnist, names it from any
// directory: where no such directory exists (an installed binary run
// outside the repository), its embedded copy is used.
func Resolve(dir string) (string, error) {
	if dir == "" {
		return Teacher()
	}
	if filepath.ToSlash(filepath.Clean(dir)) == TeacherPath {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return Teacher()
		}
	}
	return dir, nil
}

// TeacherPath is where the shipped teacher lies in the repository.
const TeacherPath = "models/mnist"

// Name returns a short name of a model directory for reports and file
// names: "mnist" for the shipped teacher (wherever its files were
// written), the directory's base name otherwise.
func Name(dir string) string {
	if IsTeacher(dir) {
		return "mnist"
	}
	return filepath.Base(filepath.Clean(dir))
}

// Label names a model directory for people: the shipped teacher as such,
// any other by its path.
func Label(dir string) string {
	if IsTeacher(dir) {
		return "the shipped teacher (models/mnist)"
	}
	return dir
}
