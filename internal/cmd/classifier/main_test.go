package classifier

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClassifierErrors: bad flags and settings are errors before any
// training, and the shipped weights file is never touched.
func TestClassifierErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "w.npz")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"-epochs", "x"}, 2, "invalid value"},
		{[]string{"-epochs", "0"}, 1, "must be positive"},
		{[]string{"-lr", "NaN"}, 1, "must be positive"},
		{[]string{"-data", "cifar"}, 1, "want mnist"},
	} {
		var so, se bytes.Buffer
		if code := run(append(c.args, "-out", out), &so, &se); code != c.code || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se.String(), c.code, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run wrote %s", out)
	}
}
