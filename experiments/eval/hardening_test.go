package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalChecksBeforeSampling: settings that would fail after sampling,
// sizes beyond memory and outputs that cannot be written are refused before
// anything is drawn, naming the flag.
func TestEvalChecksBeforeSampling(t *testing.T) {
	dir := tinyMNISTModel(t)
	tmp := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-bootstrap", "1"}, "-bootstrap 1"},
		{[]string{"-batch", "0"}, "-batch 0"},
		{[]string{"-n", "4611686018427387904"}, "-n 4611686018427387904 with -batch 100 (samples of 1×32×32 and their features) needs about"},
		{[]string{"-out", tmp}, "-out " + tmp + " is a directory"},
	} {
		var so, se bytes.Buffer
		args := append([]string{"-model", dir, "-steps", "2", "-grid", ""}, c.args...)
		if !strings.Contains(strings.Join(c.args, " "), "-out") {
			args = append(args, "-out", filepath.Join(tmp, "r.json"))
		}
		if code := run(args, &so, &se); code != 1 || !strings.Contains(se.String(), c.want) || strings.Contains(se.String(), "sample:") {
			t.Errorf("%v: exit %d, %q; want 1 mentioning %q before sampling", c.args, code, se.String(), c.want)
		}
	}
}
