package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestProgressPlainLines: written to a file or pipe, progress is a plain
// line at every 5%, with no carriage returns.
func TestProgressPlainLines(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, 200, "train")
	for i := 1; i <= 200; i++ {
		p.Set(i, "loss 0.1")
	}
	p.Finish()
	out := b.String()
	if strings.Contains(out, "\r") {
		t.Errorf("carriage returns in a non-terminal log: %q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 20 || !strings.Contains(lines[0], "train: 10/200 (5%)") || !strings.Contains(lines[0], "ETA") || !strings.Contains(lines[19], "200/200 (100%)") {
		t.Errorf("%d lines: %q", len(lines), out)
	}
	// A resumed run reports from where it starts.
	b.Reset()
	p = NewProgress(&b, 100, "train").From(50)
	p.Set(51, "")
	p.Set(55, "")
	if got := strings.Count(b.String(), "\n"); got != 1 || !strings.Contains(b.String(), "55/100") {
		t.Errorf("resumed: %q", b.String())
	}
}
