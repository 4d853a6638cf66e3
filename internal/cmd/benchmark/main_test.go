package benchmark

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBenchmarkPrintsResult runs both modes on a small test config and
// checks the last line: "RESULT <mode>_step_median_s X" with X > 0.
func TestBenchmarkPrintsResult(t *testing.T) {
	cfg := filepath.Join("..", "..", "..", "unet", "testdata", "classcond", "config.json")
	for _, mode := range []string{"train", "sample"} {
		prof := filepath.Join(t.TempDir(), "cpu.prof")
		var so, se bytes.Buffer
		if code := run([]string{"-config", cfg, "-batch", "2", "-steps", "3", "-warmup", "1", "-mode", mode, "-cpuprofile", prof}, &so, &se); code != 0 {
			t.Fatalf("%s: exit %d: %s", mode, code, se.String())
		}
		lines := strings.Split(strings.TrimSpace(so.String()), "\n")
		f := strings.Fields(lines[len(lines)-1])
		if len(f) != 3 || f[0] != "RESULT" || f[1] != mode+"_step_median_s" {
			t.Fatalf("%s: last line %q", mode, lines[len(lines)-1])
		}
		if v, err := strconv.ParseFloat(f[2], 64); err != nil || v <= 0 {
			t.Fatalf("%s: median %q", mode, f[2])
		}
		if st, err := os.Stat(prof); err != nil || st.Size() == 0 {
			t.Fatalf("%s: no CPU profile written: %v", mode, err)
		}
	}
}

func TestBenchmarkErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-mode", "fly"}, 1, `mode "fly"`},
		{[]string{"-config", "no-such-config"}, 1, "no-such-config"},
		{[]string{"-steps", "0"}, 1, "must be positive"},
		{[]string{"-batch", "x"}, 2, "invalid value"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"-config", "mnist", "-steps", "1", "-cpuprofile", filepath.Join(t.TempDir(), "no", "dir", "p")}, 1, "no such file"},
	}
	for _, c := range cases {
		var so, se bytes.Buffer
		code := run(c.args, &so, &se)
		if code != c.code || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, se.String(), c.code, c.want)
		}
	}
}
