package predict

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio/npztest"
)

// TestPredictMessages: an extra positional argument is reported as such
// (it used to be reported as a missing -model), and an int32 sample by its
// dtype (it used to be called int64).
func TestPredictMessages(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "unet", "testdata", "classcond")
	in32 := filepath.Join(t.TempDir(), "in.npz")
	if err := npztest.WriteInt32(in32, "sample", make([]int32, 16*16), 1, 1, 16, 16); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.npz")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-model", dir, "-input", filepath.Join(dir, "input.npz"), "-output", out, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-model", dir, "-input", in32, "-output", out}, 1, `"sample" is int32`},
		{[]string{"-model", dir, "-input", filepath.Join(dir, "input.npz"), "-output", t.TempDir()}, 2, "is a directory, not a file"},
	} {
		var so, se bytes.Buffer
		if code := run(c.args, &so, &se); code != c.code || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se.String(), c.code, c.want)
		}
	}
}
