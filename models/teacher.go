package models

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
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
	files := make(map[string][]byte, len(teacherFiles))
	h := sha256.New()
	for _, f := range teacherFiles {
		b, err := teacherFS.ReadFile("mnist/" + f)
		if err != nil {
			return "", fmt.Errorf("shipped teacher: %w", err)
		}
		files[f] = b
		h.Write(b)
	}
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	parent := filepath.Join(root, "clockwork")
	dir := filepath.Join(parent, "teacher-"+hex.EncodeToString(h.Sum(nil))[:16])
	if same(dir, files) {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("shipped teacher: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".teacher-*")
	if err != nil {
		return "", fmt.Errorf("shipped teacher: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range teacherFiles {
		if err := os.WriteFile(filepath.Join(tmp, f), files[f], 0o644); err != nil {
			return "", fmt.Errorf("shipped teacher: %w", err)
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
		return "", fmt.Errorf("shipped teacher: writing %s: %w", dir, err)
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

// same reports whether dir holds every file of the shipped teacher with
// the embedded contents.
func same(dir string, files map[string][]byte) bool {
	for f, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Equal(got, want) {
			return false
		}
	}
	return true
}
