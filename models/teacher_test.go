package models

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
)

func TestTeacherExtractsALoadableModel(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	dir, err := Teacher()
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := diffusion.LoadModel(dir)
	if err != nil {
		t.Fatalf("shipped teacher does not load: %v", err)
	}
	if m.Config.NumClassEmbeds == nil || *m.Config.NumClassEmbeds != 11 {
		t.Errorf("shipped teacher: class embeddings %v, want 11 (ten digits and the null class)", m.Config.NumClassEmbeds)
	}
	if !IsTeacher(dir) || !IsTeacher("mnist") || IsTeacher(t.TempDir()) {
		t.Errorf("IsTeacher: cached copy %v, checkout's models/mnist %v, empty directory %v", IsTeacher(dir), IsTeacher("mnist"), IsTeacher(t.TempDir()))
	}
	again, err := Teacher()
	if err != nil || again != dir {
		t.Fatalf("second call: %q, %v; want %q", again, err, dir)
	}

	// A damaged cached copy is written again.
	npz := filepath.Join(dir, "model.npz")
	if err := os.WriteFile(npz, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	repaired, err := Teacher()
	if err != nil || repaired != dir {
		t.Fatalf("after damage: %q, %v; want %q", repaired, err, dir)
	}
	if _, _, err := diffusion.LoadModel(dir); err != nil {
		t.Fatalf("repaired teacher does not load: %v", err)
	}
	if err := os.WriteFile(npz, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if IsTeacher(dir) {
		t.Error("IsTeacher accepts a damaged copy")
	}
}

// TestResolve: without a directory the shipped teacher, whatever is in
// the working directory; with one, that one.
func TestResolve(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Chdir(t.TempDir())
	want, err := Teacher()
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join("runs", "mnist", "model"), 0o755)
	if got, err := Resolve(""); err != nil || got != want {
		t.Fatalf("Resolve: %q, %v; want %q", got, err, want)
	}
	if got, _ := Resolve("x"); got != "x" {
		t.Errorf("Resolve(x) = %q", got)
	}
	// models/mnist names the embedded teacher where no such directory
	// exists (outside the repository), and the directory where it does.
	if got, err := Resolve("models/mnist"); err != nil || got != want {
		t.Errorf("Resolve(models/mnist) outside the repository: %q, %v; want %q", got, err, want)
	}
	os.MkdirAll(filepath.Join("models", "mnist"), 0o755)
	if got, _ := Resolve("models/mnist"); got != "models/mnist" {
		t.Errorf("Resolve(models/mnist) with the directory there: %q", got)
	}
}

// TestSegmenter finds the shipped segmentation model: from the package's
// directory (no models/segment below it) the embedded copy, written to
// the cache, with the checkout's files.
func TestSegmenter(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	dir, err := Segmenter()
	if err != nil {
		t.Fatal(err)
	}
	if dir == SegmenterPath {
		t.Fatalf("found %s below the models package", dir)
	}
	for _, f := range []string{"config.json", "model.safetensors"} {
		want, err := os.ReadFile(filepath.Join("segment", f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: the cached copy differs from the checkout's (%v)", f, err)
		}
	}
	again, err := Segmenter()
	if err != nil || again != dir {
		t.Errorf("second call: %s, %v; want %s", again, err, dir)
	}
}
