package fsutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteAtomic writes a file through fill into a temporary file next to path
// (creating its directory), syncs it and renames it over path.
func WriteAtomic(path string, fill func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// CheckOutDir checks that path, named by a flag as a directory to write,
// is a directory or does not exist yet, and that files can be made in it or
// in the directory it will be made in; flag names the flag in the error
// ("-out"). Nothing is left behind.
func CheckOutDir(flag, path string) error {
	if path == "" {
		return fmt.Errorf("%s is empty: give a directory", flag)
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("%s %s is a file, not a directory", flag, path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: %w", flag, path, err)
	case err == nil:
		return probe(flag, path, path)
	}
	return checkParents(flag, path)
}

// CheckOutFile checks that path, named by a flag as a file to write, is not
// a directory (nor ends in a separator, as a directory's name does), that
// its directory is not a file, and that files can be made there; flag
// names the flag in the error ("-out"). Nothing is left behind.
func CheckOutFile(flag, path string) error {
	if path == "" {
		return fmt.Errorf("%s is empty: give a file", flag)
	}
	if os.IsPathSeparator(path[len(path)-1]) {
		return fmt.Errorf("%s %s ends in a separator, as a directory does: give a file name", flag, path)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s %s is a directory, not a file", flag, path)
	}
	return checkParents(flag, path)
}

// checkParents finds the nearest existing directory above path: it must be
// a directory, and writable.
func checkParents(flag, path string) error {
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s %s: %s is a file, not a directory", flag, path, d)
			}
			return probe(flag, path, d)
		}
		if next := filepath.Dir(d); next == d {
			return nil
		}
	}
}

// probe makes and removes a file in dir, so that an output that cannot be
// written fails before the work that would fill it, not after.
func probe(flag, path, dir string) error {
	f, err := os.CreateTemp(dir, ".clockwork-probe-*")
	if err != nil {
		return fmt.Errorf("%s %s: cannot write in %s: %w", flag, path, dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// WriteJSON writes v as indented JSON with a final newline to path,
// atomically, creating its directory.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
