package models

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
