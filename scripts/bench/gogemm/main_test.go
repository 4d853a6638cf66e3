package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestGogemm(t *testing.T) {
	var so, se bytes.Buffer
	if code := run([]string{"-reps", "3", "64", "96"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	lines := strings.Split(strings.TrimSpace(so.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q: want a line per size", so.String())
	}
	for _, l := range lines {
		_, g, ok := strings.Cut(l, "gflops=")
		if v, err := strconv.ParseFloat(g, 64); !ok || err != nil || !(v > 0) {
			t.Errorf("line %q: no positive GFLOP/s", l)
		}
	}
	for _, args := range [][]string{{}, {"-reps", "0", "64"}, {"x"}, {"-5"}} {
		se.Reset()
		if code := run(args, &so, &se); code != 2 || se.Len() == 0 {
			t.Errorf("%v: exit %d, %q; want 2 with a message", args, code, se.String())
		}
	}
}
