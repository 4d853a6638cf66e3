package eval

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/modeltest"
)

// TestEvalChecksBeforeSampling: settings that would fail after sampling,
// sizes beyond memory and outputs that cannot be written are refused before
// anything is drawn, naming the flag.
func TestEvalChecksBeforeSampling(t *testing.T) {
	dir := modeltest.Dir(t, 1)
	tmp := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-bootstrap", "1"}, "-bootstrap 1"},
		{[]string{"-batch", "0"}, "-batch 0"},
		{[]string{"-n", "4611686018427387904"}, "-n 4611686018427387904 with -batch 100 (samples of 1×32×32 and their features) needs about"},
		{[]string{"-out", tmp}, "-out " + tmp + " is a directory"},
		// issue 26: outputs that cannot be written, flags that would be ignored
		{[]string{"-out", "/proc/self/e.json"}, "cannot write in /proc/self"},
		{[]string{"-grid", "/proc/self/g.png"}, "cannot write in /proc/self"},
		{[]string{"-adaptor", "identity", "-clock", "0"}, "-clock 0"},
		{[]string{"-depth", "2"}, "go with -adaptor"},
	} {
		var so, se bytes.Buffer
		args := append([]string{"-model", dir, "-steps", "2"}, c.args...)
		if !strings.Contains(strings.Join(c.args, " "), "-grid") {
			args = append(args, "-grid", "")
		}
		if !strings.Contains(strings.Join(c.args, " "), "-out") {
			args = append(args, "-out", filepath.Join(tmp, "r.json"))
		}
		if code := run(args, &so, &se); code == 0 || !strings.Contains(se.String(), c.want) || strings.Contains(se.String(), "sample:") {
			t.Errorf("%v: exit %d, %q; want a failure mentioning %q before sampling", c.args, code, se.String(), c.want)
		}
	}
}

// TestEvalRealRefusesModelFlags: -real measures real images, so the flags
// of a model's sampling are refused, not ignored (issue 26, case 4).
func TestEvalRealRefusesModelFlags(t *testing.T) {
	for _, extra := range [][]string{{"-adaptor", "identity"}, {"-sampler", "ddim"}, {"-steps", "4"}, {"-guidance", "2"}, {"-model", "x"}} {
		var so, se bytes.Buffer
		args := append([]string{"-real", "test", "-n", "10", "-out", filepath.Join(t.TempDir(), "r.json")}, extra...)
		if code := run(args, &so, &se); code != 2 || !strings.Contains(se.String(), extra[0]) || !strings.Contains(se.String(), "do not apply") {
			t.Errorf("%v: exit %d, %q; want 2 naming %s", extra, code, se.String(), extra[0])
		}
	}
}
