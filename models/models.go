package models

import "path/filepath"

// Resolve returns the model directory a command uses: dir when given, the
// shipped teacher (Teacher) otherwise. It is the toolkit's one rule for the
// default model, so that a command reproduces on any machine: a model of
// your own (the train command's run/model directory) is given with -model.
func Resolve(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return Teacher()
}

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
