// Package modeltest writes small untrained class-conditioned models for the
// tests of the commands that load a model directory.
package modeltest

import (
	"path/filepath"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/unet"
)

// Dir saves an untrained U-Net of the embedded mnist_tiny config, its
// weights drawn from seed, with the default schedule into a new folder
// under t.TempDir and returns the folder.
func Dir(t testing.TB, seed uint64) string {
	t.Helper()
	c, err := unet.ConfigFrom("mnist_tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := unet.New(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := diffusion.SaveScheduleConfig(dir, diffusion.DefaultScheduleConfig()); err != nil {
		t.Fatal(err)
	}
	return dir
}
