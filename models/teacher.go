package models

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The shipped teacher: the class-conditional MNIST U-Net of configs/mnist.json,
// trained by the command in mnist/README.md, with its noise schedule.
//
//go:embed mnist/config.json mnist/model.npz mnist/scheduler_config.json
var teacherFS embed.FS

// teacherFiles are the files of the shipped teacher's model directory.
var teacherFiles = []string{"config.json", "model.npz", "scheduler_config.json"}

// Teacher returns the directory of the shipped teacher model. The embedded
// files are written once into the user's cache directory
// (os.UserCacheDir()/clockwork/teacher-<hash>, named by a hash of their
// contents so that a new teacher never meets an old one's files) and found
// there by later calls; a cached copy whose contents differ from the
// embedded files is written again.
func Teacher() (string, error) {
	return cached("teacher", teacherFS, "mnist", teacherFiles)
}

// The shipped segmentation model: the residual U-Net of segment/README.md.
//
//go:embed segment/config.json segment/model.safetensors
var segmenterFS embed.FS

// SegmenterPath is where the shipped segmentation model lies in the
// repository.
const SegmenterPath = "models/segment"

// Segmenter returns the directory of the shipped segmentation model (a
// package segment model directory), from the checkout's models/segment
// when the working directory has it, else written once from the embedded
// copy into the user's cache directory, as Teacher does.
func Segmenter() (string, error) {
	files := []string{"config.json", "model.safetensors"}
	if fsys, err := fs.Sub(segmenterFS, "segment"); err == nil && sameFS(SegmenterPath, fsys, files) {
		return SegmenterPath, nil
	}
	return cached("segmenter", segmenterFS, "segment", files)
}

// sameFS reports whether dir holds the files of fsys with the same
// contents.
func sameFS(dir string, fsys fs.FS, names []string) bool {
	files := map[string][]byte{}
	for _, f := range names {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return false
		}
		files[f] = b
	}
	return same(dir, files)
}

// cached writes the embedded files sub/names of fsys into the user's cache
// directory (os.UserCacheDir()/clockwork/<kind>-<hash of the contents>)
// unless an identical copy is there, and returns that directory.
func cached(kind string, fsys embed.FS, sub string, names []string) (string, error) {
	files := make(map[string][]byte, len(names))
	h := sha256.New()
	for _, f := range names {
		b, err := fsys.ReadFile(sub + "/" + f)
		if err != nil {
			return "", fmt.Errorf("shipped %s: %w", kind, err)
		}
		files[f] = b
		h.Write(b)
	}
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	parent := filepath.Join(root, "clockwork")
	dir := filepath.Join(parent, kind+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	if same(dir, files) {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("shipped %s: %w", kind, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+kind+"-*")
	if err != nil {
		return "", fmt.Errorf("shipped %s: %w", kind, err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range names {
		if err := os.WriteFile(filepath.Join(tmp, f), files[f], 0o644); err != nil {
			return "", fmt.Errorf("shipped %s: %w", kind, err)
		}
	}
	// A concurrent caller may have finished meanwhile; a damaged copy is
	// moved aside first.
	if same(dir, files) {
		return dir, nil
	}
	if _, err := os.Stat(dir); err == nil {
		old := dir + ".damaged"
		os.RemoveAll(old)
		if err := os.Rename(dir, old); err == nil {
			defer os.RemoveAll(old)
		}
	}
	if err := os.Rename(tmp, dir); err != nil && !same(dir, files) {
		return "", fmt.Errorf("shipped %s: writing %s: %w", kind, dir, err)
	}
	return dir, nil
}

// IsTeacher reports whether dir holds the shipped teacher's files (the
// cached copy Teacher returns, or a checkout's models/mnist), without
// writing anything.
func IsTeacher(dir string) bool {
	files := make(map[string][]byte, len(teacherFiles))
	for _, f := range teacherFiles {
		b, err := teacherFS.ReadFile("mnist/" + f)
		if err != nil {
			return false
		}
		files[f] = b
	}
	return same(dir, files)
}

// same reports whether dir holds every file of files with its contents.
func same(dir string, files map[string][]byte) bool {
	for f, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Equal(got, want) {
			return false
		}
	}
	return true
}
