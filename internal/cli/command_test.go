package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParse: -h prints the synopsis, the examples and the flags on stdout
// and stops with 0; a bad flag or an unexpected argument stops with 2 and
// a line on stderr; Given and GivenExcept report the flags set.
func TestParse(t *testing.T) {
	for _, c := range []struct {
		args       []string
		positional bool
		code       int
		ok         bool
		out, err   string
	}{
		{[]string{"-h"}, false, 0, false, "Examples:\n  demo -n 3", ""},
		{[]string{"-help"}, false, 0, false, "-n int", ""},
		{[]string{"-x"}, false, 2, false, "", "demo -h lists the flags"},
		{[]string{"-n", "3", "extra"}, false, 2, false, "", `demo: unexpected argument "extra"`},
		{[]string{"-n", "3", "extra"}, true, 0, true, "", ""},
	} {
		var so, se bytes.Buffer
		cmd := New("demo", "a demonstration", []string{"demo -n 3"}, &so, &se)
		n := cmd.Flags.Int("n", 1, "how many")
		cmd.Flags.Bool("v", false, "verbose")
		code, ok := cmd.Parse(c.args, c.positional)
		if code != c.code || ok != c.ok || !strings.Contains(so.String(), c.out) || !strings.Contains(se.String(), c.err) {
			t.Errorf("%v: %d %t, stdout %q, stderr %q", c.args, code, ok, so.String(), se.String())
		}
		if ok && (*n != 3 || !cmd.Given("n") || cmd.Given("v") || len(cmd.GivenExcept("v")) != 1) {
			t.Errorf("%v: n %d, given n %t", c.args, *n, cmd.Given("n"))
		}
	}
}

// TestClaim: a claimed directory refuses a second claim; abandoning a
// directory the claim created removes it, one that existed stays.
func TestClaim(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	release, abandon, err := Claim(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Claim(dir); err == nil {
		t.Error("a second claim of a claimed directory succeeded")
	}
	abandon()
	release()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("an abandoned new directory is still there: %v", err)
	}
	old := t.TempDir()
	_, abandon, err = Claim(old)
	if err != nil {
		t.Fatal(err)
	}
	abandon()
	if _, err := os.Stat(old); err != nil {
		t.Errorf("an abandoned existing directory was removed: %v", err)
	}
}
