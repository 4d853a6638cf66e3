package sysmem

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	if Available() < 1<<20 {
		t.Fatalf("available memory %d: implausibly small", Available())
	}
	if err := Check(1024, "a kilobyte"); err != nil {
		t.Errorf("a kilobyte refused: %v", err)
	}
	err := Check(1e30, "-n 1e21")
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "-n 1e21 needs about") || !strings.Contains(err.Error(), "available") {
		t.Errorf("1e30 bytes: %v", err)
	}
	for b, want := range map[float64]string{512: "512 B", 3.2e6: "3.2 MB", 1.5e12: "1.5 TB", 1e30: "1e+12 EB"} {
		if got := Format(b); got != want {
			t.Errorf("Format(%g) = %q, want %q", b, got, want)
		}
	}
}
