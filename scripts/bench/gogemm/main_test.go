package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWarmup checks that each size runs for at least -warmup before it is
// timed: two sizes at 150 ms cannot take less than 300 ms.
func TestWarmup(t *testing.T) {
	var so, se bytes.Buffer
	start := time.Now()
	if code := run([]string{"-reps", "1", "-warmup", "150ms", "8", "16"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("two sizes with -warmup 150ms took %v", el)
	}
}

func TestGogemm(t *testing.T) {
	var so, se bytes.Buffer
	if code := run([]string{"-reps", "3", "-warmup", "0", "64", "96"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	lines := strings.Split(strings.TrimSpace(so.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q: want a line per size", so.String())
	}
	for _, l := range lines {
		positive(t, l, "gflops=")
	}
	for _, args := range [][]string{{}, {"-reps", "0", "64"}, {"x"}, {"-5"}, {"-shapes", "f", "64"}, {"-warmup", "-1s", "64"}, {"-record", "f", "-batch", "0", "-config", "mnist_tiny"}} {
		se.Reset()
		if code := run(args, &so, &se); code != 2 || se.Len() == 0 {
			t.Errorf("%v: exit %d, %q; want 2 with a message", args, code, se.String())
		}
	}
}

// positive checks that line has key followed by a positive number.
func positive(t *testing.T, line, key string) {
	t.Helper()
	_, v, ok := strings.Cut(line, key)
	v, _, _ = strings.Cut(v, " ")
	if f, err := strconv.ParseFloat(v, 64); !ok || err != nil || !(f > 0) {
		t.Errorf("line %q: no positive %s", line, key)
	}
}

// TestRecordAndReplay records a small U-Net's products at two batch sizes
// and replays them: every line gets a rate, every batch a total, and the
// larger batch runs more products.
func TestRecordAndReplay(t *testing.T) {
	dir := t.TempDir()
	shapes := filepath.Join(dir, "shapes.txt")
	var so, se bytes.Buffer
	if code := run([]string{"-record", shapes, "-config", "mnist_tiny", "-batch", "1,3"}, &so, &se); code != 0 {
		t.Fatalf("record: exit %d: %s", code, se.String())
	}
	b, err := os.ReadFile(shapes)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	kinds := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		f := strings.Fields(l)
		c, _ := strconv.Atoi(f[5])
		count[f[0]] += c
		kinds[f[1]] = true
	}
	if count["3"] <= count["1"] || !kinds["indirect"] || !kinds["sgemm"] {
		t.Errorf("recorded %v products per batch, kinds %v: want more at batch 3, convolutions and linear layers", count, kinds)
	}
	so.Reset()
	if code := run([]string{"-shapes", shapes, "-reps", "1", "-warmup", "0", "-v"}, &so, &se); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, se.String())
	}
	var lines, totals int
	for _, l := range strings.Split(strings.TrimSpace(so.String()), "\n") {
		switch {
		case strings.HasPrefix(l, "#"):
		case strings.Contains(l, " total "):
			totals++
			positive(t, l, "ms=")
		default:
			lines++
			positive(t, l, "gflops=")
		}
	}
	if totals != 2 || lines != strings.Count(string(b), "\n")-1 {
		t.Errorf("replay gave %d lines and %d totals:\n%s", lines, totals, so.String())
	}
	for _, bad := range []string{"1 sgemm 2 2 2\n", "1 fast 2 2 2 1\n", "1 sgemm 0 2 2 1\n", "# nothing\n"} {
		p := filepath.Join(dir, "bad.txt")
		os.WriteFile(p, []byte(bad), 0o644)
		se.Reset()
		if code := run([]string{"-shapes", p}, &so, &se); code != 1 || !strings.Contains(se.String(), "bad.txt") {
			t.Errorf("%q: exit %d, %q; want 1 naming the file", bad, code, se.String())
		}
	}
}

// TestRate: a slow rate keeps its significant digits, a fast one a decimal.
func TestRate(t *testing.T) {
	for g, want := range map[float64]string{0.04321: "0.0432", 2.5e-5: "2.5e-05", 1: "1.0", 107.84: "107.8"} {
		if got := rate(g); got != want {
			t.Errorf("rate(%v) = %q, want %q", g, got, want)
		}
	}
}
