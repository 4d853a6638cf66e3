package edits

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadDefaults: no file is no defaults; a valid one reads back; an
// unknown key, a negative chain_steps and a chain_strength that keeps no
// step are errors naming the file.
func TestLoadDefaults(t *testing.T) {
	dir := t.TempDir()
	if d, err := LoadDefaults(dir); d != nil || err != nil {
		t.Fatalf("no file: %+v, %v", d, err)
	}
	path := filepath.Join(dir, DefaultsFile)
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"text_scale": 2, "image_scale": 1.5, "steps": 20, "chain_steps": 6, "chain_strength": 0.67, "chosen_by": "a sweep"}`)
	if d, err := LoadDefaults(dir); err != nil || d.ChainSteps != 6 || d.ChainStrength != 0.67 || d.ChosenBy != "a sweep" {
		t.Fatalf("valid file: %+v, %v", d, err)
	}
	for _, bad := range []string{
		`{"text_scale": 2, "image_scale": 1.5, "bogus": 1}`,
		`{"text_scale": 2, "image_scale": 1.5, "chain_steps": -1}`,
		`{"text_scale": 2, "image_scale": 1.5, "chain_steps": 6, "chain_strength": 0.1}`,
		`{"text_scale": 2, "image_scale": 1.5, "chain_steps": 6, "chain_strength": 1}`,
	} {
		write(bad)
		if _, err := LoadDefaults(dir); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
