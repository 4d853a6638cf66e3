package sample

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/npzio"
)

// TestSampleStoresImages: samples are stored in [−1, 1], as the command's
// documentation says, whichever the sampler (DPM-Solver++ and Euler leave
// that range on this untrained model; they used to be stored so).
func TestSampleStoresImages(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "unet", "testdata", "classcond")
	for _, sampler := range []string{"dpmpp2m", "euler", "ddim"} {
		out := filepath.Join(t.TempDir(), "s.npz")
		var so, se bytes.Buffer
		if code := run([]string{"-model", dir, "-n", "4", "-steps", "3", "-sampler", sampler, "-out", out, "-grid", ""}, &so, &se); code != 0 {
			t.Fatalf("%s: exit %d: %s", sampler, code, se.String())
		}
		a, err := npzio.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range a["samples"].F32 {
			if v < -1 || v > 1 {
				t.Fatalf("%s: stored sample value %g outside [−1, 1]", sampler, v)
			}
		}
	}
}

// TestSampleInputMessages: a model directory without scheduler_config.json
// is an error (it used to sample with the default schedule), sizes that
// cannot fit in memory are refused with the estimate (they used to crash),
// and outputs that cannot be written are reported before sampling.
func TestSampleInputMessages(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "unet", "testdata", "classcond")
	noSched := filepath.Join(t.TempDir(), "model")
	os.MkdirAll(noSched, 0o755)
	for _, f := range []string{"config.json", "model.npz"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(noSched, f), b, 0o644)
	}
	outDir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-model", noSched}, "no " + diffusion.ScheduleFile},
		{[]string{"-model", dir, "-n", "4611686018427387904"}, "-n 4611686018427387904 with -batch 64 (samples of 1×16×16) needs about"},
		{[]string{"-model", dir, "-batch", "0"}, "-batch 0"},
		{[]string{"-model", dir, "-cols", "0", "-out", filepath.Join(outDir, "s.npz"), "-grid", filepath.Join(outDir, "g.png")}, "-cols 0"},
		{[]string{"-model", dir, "-out", outDir, "-grid", ""}, "-out " + outDir + " is a directory"},
		// issue 26, case 5: outputs refused before sampling, nothing written
		{[]string{"-model", dir, "-out", filepath.Join(outDir, "g.npz"), "-grid", "/proc/self/g.png"}, "cannot write in /proc/self"},
		{[]string{"-model", dir, "-out", filepath.Join(outDir, "d") + "/", "-grid", ""}, "ends in a separator"},
	} {
		var so, se bytes.Buffer
		args := c.args
		if !strings.Contains(strings.Join(args, " "), "-out") {
			args = append(args, "-out", filepath.Join(t.TempDir(), "o.npz"), "-grid", "")
		}
		if code := run(args, &so, &se); code != 1 || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 1 mentioning %q", c.args, code, se.String(), c.want)
		}
	}
	if left, _ := os.ReadDir(outDir); len(left) > 0 {
		t.Errorf("refused runs wrote %v", left)
	}
}
