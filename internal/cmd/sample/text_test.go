package sample

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/texttest"
)

// TestSampleText: a text-conditioned model samples from prompts (their
// token ids stored beside the samples), and the prompts it cannot take are
// clear errors with nothing written.
func TestSampleText(t *testing.T) {
	dir := texttest.Dir(t, 16, 12)
	out := filepath.Join(t.TempDir(), "s.npz")
	var so, se bytes.Buffer
	if code := run([]string{"-model", dir, "-prompt", "a thick 7 on the left", "-n", "3", "-steps", "2", "-guidance", "2", "-out", out}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	a, err := npzio.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if s := a["samples"].Shape; len(s) != 4 || s[0] != 3 || a["input_ids"].Shape[1] != 12 {
		t.Errorf("samples %v, input_ids %v", s, a["input_ids"].Shape)
	}
	prompts := filepath.Join(t.TempDir(), "prompts.txt")
	os.WriteFile(prompts, []byte("# a comment\na 1\n\na small 2 at the top\n"), 0o644)
	bad := texttest.Dir(t, 8, 12) // its encoder is narrower than cross_attention_dim
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-model", dir}, []string{dir, "conditioned on text: give -prompt or -prompts"}},
		{[]string{"-model", dir, "-prompt", "a purple 7"}, []string{`"purple" is not in the vocabulary`, "vocab.json"}},
		{[]string{"-model", dir, "-prompt", strings.Repeat("a ", 11) + "7"}, []string{"12 words", "exceed the 12 tokens"}},
		{[]string{"-model", bad, "-prompt", "a 7"}, []string{"hidden_size 8 is not the U-Net's cross_attention_dim 16"}},
		{[]string{"-model", dir, "-prompt", "a 7", "-prompts", prompts}, []string{"give one"}},
		{[]string{"-prompt", "a 7"}, []string{"not conditioned on text"}},
	} {
		dst := filepath.Join(t.TempDir(), "none")
		var so, se bytes.Buffer
		code := run(append(c.args, "-n", "2", "-steps", "2", "-out", filepath.Join(dst, "s.npz")), &so, &se)
		if code == 0 {
			t.Errorf("%v: succeeded", c.args)
		}
		for _, w := range c.want {
			if !strings.Contains(se.String(), w) {
				t.Errorf("%v: %q does not mention %q", c.args, se.String(), w)
			}
		}
		if _, err := os.Stat(dst); err == nil {
			t.Errorf("%v: wrote %s", c.args, dst)
		}
	}
	so.Reset()
	se.Reset()
	if code := run([]string{"-model", dir, "-prompts", prompts, "-n", "4", "-steps", "2", "-out", out}, &so, &se); code != 0 {
		t.Fatalf("-prompts: exit %d: %s", code, se.String())
	}
}
