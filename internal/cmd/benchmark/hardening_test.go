package benchmark

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchmarkChecksFlagsBeforeProfile: a rejected flag leaves the file
// -cpuprofile names as it was (it used to be truncated first), and a batch
// that cannot fit in memory is refused with the estimate.
func TestBenchmarkChecksFlagsBeforeProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	os.WriteFile(prof, []byte("an earlier profile"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-steps", "0"}, "must be positive"},
		{[]string{"-mode", "fly"}, `mode "fly"`},
		{[]string{"-warmup", "-1"}, "warmup -1"},
		{[]string{"-batch", "1099511627776"}, "batch 1099511627776 (train steps on 1×32×32 samples) needs about"},
	} {
		var so, se bytes.Buffer
		if code := run(append(c.args, "-config", "mnist", "-cpuprofile", prof), &so, &se); code != 1 || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 1 mentioning %q", c.args, code, se.String(), c.want)
		}
		if b, _ := os.ReadFile(prof); string(b) != "an earlier profile" {
			t.Fatalf("%v: the profile file was changed to %q", c.args, b)
		}
	}
}
