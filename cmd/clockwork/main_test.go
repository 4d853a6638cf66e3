package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClockworkCommand: -h lists every subcommand with an example and
// exits 0; no command or an unknown one exits 2 naming it; each
// subcommand's -h exits 0 with its own usage; a subcommand runs with the
// arguments after its name.
func TestClockworkCommand(t *testing.T) {
	var so, se bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &so, &se); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	for _, s := range subcommands {
		if !strings.Contains(so.String(), s.name) || !strings.Contains(so.String(), "e.g. "+s.example) {
			t.Errorf("-h does not list %s with its example", s.name)
		}
		var o, e bytes.Buffer
		args := append(strings.Fields(s.name), "-h")
		if code := run(context.Background(), args, &o, &e); code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, e.String())
		}
		if !strings.Contains(o.String()+e.String(), "Flags") && !strings.Contains(o.String()+e.String(), "-") {
			t.Errorf("%v printed no usage", args)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{{nil, "Usage"}, {[]string{"trian"}, `unknown command "trian"`}, {[]string{"study", "nothing"}, `unknown command "study nothing"`}} {
		so.Reset()
		se.Reset()
		if code := run(context.Background(), c.args, &so, &se); code != 2 || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, %q", c.args, code, se.String())
		}
	}
	// A real run: eight samples of the shipped teacher in two steps.
	out := filepath.Join(t.TempDir(), "s.npz")
	so.Reset()
	se.Reset()
	if code := run(context.Background(), []string{"sample", "-steps", "2", "-n", "2", "-out", out}, &so, &se); code != 0 {
		t.Fatalf("sample: exit %d: %s", code, se.String())
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}
