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
	release, abandon, err := Claim(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Claim(dir, "train"); err == nil {
		t.Error("a second claim of a claimed directory succeeded")
	}
	abandon()
	release()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("an abandoned new directory is still there: %v", err)
	}
	old := t.TempDir()
	_, abandon, err = Claim(old, "distill")
	if err != nil {
		t.Fatal(err)
	}
	abandon()
	if _, err := os.Stat(old); err != nil {
		t.Errorf("an abandoned existing directory was removed: %v", err)
	}
}

// TestRunDirKinds: a run directory says what made it, and other commands
// refuse it; a command's own directory, an empty or new one, and an older
// version's checkpoints (for train and distill) pass.
func TestRunDirKinds(t *testing.T) {
	mk := func(files ...string) string {
		d := t.TempDir()
		for _, f := range files {
			os.MkdirAll(filepath.Dir(filepath.Join(d, f)), 0o755)
			os.WriteFile(filepath.Join(d, f), []byte(`{"study": "clockwork", "config": {}, "config_hash": "ab", "cells": 1}`), 0o644)
		}
		return d
	}
	trained := filepath.Join(t.TempDir(), "t")
	release, _, err := Claim(trained, "train")
	if err != nil {
		t.Fatal(err)
	}
	release()
	for _, c := range []struct {
		dir, command, want string
	}{
		{trained, "train", ""},
		{trained, "distill", "holds a training run (train); distill writes an adaptor directory"},
		{trained, "perturb", "holds a training run (train)"},
		{mk("study.json"), "clockwork", ""},
		{mk("study.json"), "perturb", "holds a clockwork study directory; perturb writes a perturb study directory"},
		{mk("study.json"), "train", "holds a clockwork study directory"},
		{mk("adaptor.json", "adaptor.npz"), "distill", ""},
		{mk("adaptor.json"), "clockwork", "holds an adaptor directory (distill)"},
		{mk("config.json", "model.npz"), "distill", "holds a model directory"},
		{mk("checkpoints/latest"), "distill", ""},
		{mk("checkpoints/latest"), "train", ""},
		{mk("checkpoints/latest"), "perturb", "holds a training or distillation run"},
		{mk(), "perturb", ""},
		{filepath.Join(t.TempDir(), "new"), "distill", ""},
	} {
		err := CheckRunDir(c.dir, c.command)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s for %s: %v; want %q", c.dir, c.command, err, c.want)
		}
	}
}
