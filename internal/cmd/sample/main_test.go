package sample

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

func TestSampleCommand(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "unet", "testdata", "classcond")
	tmp := t.TempDir()
	out, grid := filepath.Join(tmp, "s.npz"), filepath.Join(tmp, "s.png")
	var so, se bytes.Buffer
	args := []string{"-model", dir, "-n", "6", "-batch", "4", "-steps", "3", "-guidance", "1.5", "-labels", "1,2", "-out", out, "-grid", grid, "-cols", "3"}
	if code := run(args, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	a, err := npzio.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if s := a["samples"].Shape; len(s) != 4 || s[0] != 6 || s[1] != 1 || s[2] != 16 {
		t.Errorf("samples shape %v", s)
	}
	if l := a["labels"].I64; len(l) != 6 || l[0] != 1 || l[1] != 2 || l[2] != 1 {
		t.Errorf("labels %v", l)
	}
	f, _ := os.Open(grid)
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("grid: %v", err)
	}
	// The same samples in batches of 1.
	out1 := filepath.Join(tmp, "s1.npz")
	if code := run([]string{"-model", dir, "-n", "6", "-batch", "1", "-steps", "3", "-guidance", "1.5", "-labels", "1,2", "-out", out1, "-grid", ""}, &so, &se); code != 0 {
		t.Fatal(se.String())
	}
	b, _ := npzio.Read(out1)
	for i, v := range a["samples"].F32 {
		if b["samples"].F32[i] != v {
			t.Fatal("samples depend on the batch size")
		}
	}
}

func TestSampleErrors(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "unet", "testdata", "classcond")
	uncond := filepath.Join("..", "..", "..", "unet", "testdata", "attn")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-model", dir, "-clock", "2"}, 2, "go with -adaptor"},
		{[]string{"-model", dir, "-sampler", "plms"}, 1, "unknown sampler"},
		{[]string{"-model", dir, "-labels", "12"}, 1, "not a class"},
		{[]string{"-model", dir, "-steps", "0"}, 1, "0 steps"},
		{[]string{"-model", uncond, "-guidance", "3"}, 1, "guidance needs a class-conditional model"},
		{[]string{"-model", filepath.Join(t.TempDir(), "none")}, 1, "config.json"},
		{[]string{"-model", dir, "-n", "-1"}, 1, "positive number"},
		{[]string{"-model", dir, "-guidance", "NaN"}, 1, "not a finite number"},
		// issue 26: a sentinel value and flags that would be ignored
		{[]string{"-model", dir, "-adaptor", "identity", "-clock", "0"}, 2, "-clock 0"},
		{[]string{"-model", dir, "-depth", "2"}, 2, "go with -adaptor"},
		{[]string{"-model", dir, "-adaptor", filepath.Join(t.TempDir(), "a"), "-depth", "2"}, 2, "keeps the depth it was distilled at"},
	} {
		var so, se bytes.Buffer
		args := append(c.args, "-out", filepath.Join(t.TempDir(), "o.npz"), "-grid", "")
		if code := run(args, &so, &se); code != c.code || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se.String(), c.code, c.want)
		}
	}
}
