package simd

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFullWidth512(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, text string
		want       bool
	}{
		{"sapphire-rapids", "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\n", true},
		{"zen4", "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n", false},
		{"zen5", "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\n", true},
		{"amd-no-family", "vendor_id\t: AuthenticAMD\n", false},
		{"other", "vendor_id\t: HygonGenuine\ncpu family\t: 24\n", false},
		{"empty", "", false},
		{"garbage", "\x00\x01 no colon here\ncpu family : x\n", false},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := fullWidth512(path); got != c.want {
			t.Errorf("%s: fullWidth512 %v, want %v", c.name, got, c.want)
		}
	}
	if fullWidth512(filepath.Join(dir, "missing")) {
		t.Error("an unreadable cpuinfo reads as full width")
	}
}
