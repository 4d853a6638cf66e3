package datasets

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio/npztest"
	"github.com/clockwork-go/clockwork/internal/sysmem"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (c *countingReader) Len() int { return c.r.Len() }

// TestReadIDXRefusesClaimsBeyondInput: a header that declares more data
// than the input holds is refused from the header alone, without reading
// the data (the fuzzer used to stall on such inputs), plain or gzipped; the
// data of a file is read in one piece.
func TestReadIDXRefusesClaimsBeyondInput(t *testing.T) {
	in := idx([]uint32{1000, 1000, 100}, make([]byte, 4096))
	r := &countingReader{r: bytes.NewReader(in)}
	_, _, err := ReadIDX(r)
	if err == nil || !strings.Contains(err.Error(), "declare 100000000 data bytes, more than the 4112-byte input can hold") || r.n > 64 {
		t.Errorf("oversized claim: %v after reading %d bytes", err, r.n)
	}
	var gz bytes.Buffer
	z := gzip.NewWriter(&gz)
	z.Write(idx([]uint32{1 << 30}, make([]byte, 10)))
	z.Close()
	if _, _, err := ReadIDX(bytes.NewReader(gz.Bytes())); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("gzipped oversized claim: %v", err)
	}
	path := filepath.Join(t.TempDir(), "x.idx")
	os.WriteFile(path, idx([]uint32{2, 2}, []byte{1, 2, 3, 4}), 0o644)
	if dims, data, err := ReadIDXFile(path); err != nil || len(dims) != 2 || !bytes.Equal(data, []byte{1, 2, 3, 4}) {
		t.Errorf("file: %v %v %v", dims, data, err)
	}
	// A reader of unknown size still reads whole files.
	if _, data, err := ReadIDX(io.MultiReader(bytes.NewReader(idx([]uint32{3}, []byte{7, 8, 9})))); err != nil || !bytes.Equal(data, []byte{7, 8, 9}) {
		t.Errorf("unknown size: %v %v", data, err)
	}
}

// TestDataMessages: int32 images are reported as int32 (they used to be
// called int64), and an image count beyond memory is refused up front with
// the specification that asked for it.
func TestDataMessages(t *testing.T) {
	p := filepath.Join(t.TempDir(), "i.npz")
	if err := npztest.WriteInt32(p, "images", make([]int32, 2*4*4), 2, 4, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("npz:"+p+":images:-", "train"); err == nil || !strings.Contains(err.Error(), `"images" is int32, want uint8 or float32`) {
		t.Errorf("int32 images: %v", err)
	}
	if _, err := Open("shapes:1000000000000", "train"); !errors.Is(err, sysmem.ErrTooLarge) || !strings.Contains(err.Error(), `data "shapes:1000000000000"`) {
		t.Errorf("a trillion shapes: %v", err)
	}
}

// TestLoaderRestoreAndInfo: a loader position from a checkpoint is checked
// before use, Position says where a number of batches leads, and Info tells
// image sets apart.
func TestLoaderRestoreAndInfo(t *testing.T) {
	a, _ := Shapes(50, 16, 1)
	l, _ := NewLoader(a, 8, 5)
	x, lab := make([]float32, 8*3*16*16), make([]int64, 8)
	for steps := 1; steps <= 14; steps++ {
		l.Next(x, lab)
		if e, p := l.Position(steps); e != l.Epoch || p != l.Pos {
			t.Fatalf("after %d batches: Position %d,%d, loader at %d,%d", steps, e, p, l.Epoch, l.Pos)
		}
	}
	for _, bad := range [][2]int{{-1, 0}, {0, -8}, {0, 56}, {0, 3}, {0, 1 << 62}} {
		if err := l.Restore(bad[0], bad[1]); err == nil {
			t.Errorf("Restore(%d, %d) accepted", bad[0], bad[1])
		}
	}
	if err := l.Restore(2, 48); err != nil || l.Epoch != 2 || l.Pos != 48 {
		t.Errorf("Restore(2, 48): %v", err)
	}
	b, _ := Shapes(50, 16, 1)
	c, _ := Shapes(50, 16, 2)
	if !a.Info().Same(b.Info()) || a.Info().Same(c.Info()) || a.Info().Same(a.Subset(40).Info()) {
		t.Error("Info does not tell image sets apart")
	}
	d, _ := Open("shapes:64", "train")
	if s := d.Info().String(); !strings.HasPrefix(s, "shapes:64 (64 images of 3×32×32, sha256 ") {
		t.Errorf("Info: %s", s)
	}
}

// TestRegister: a registered kind opens through Open with its argument and
// split, its errors name the specification, and kinds cannot be taken
// twice or shadow the built-in ones.
func TestRegister(t *testing.T) {
	var got [2]string
	err := Register("toy-test", func(arg, split string) (*Images, error) {
		got = [2]string{arg, split}
		if arg == "bad" {
			return nil, fmt.Errorf("bad count")
		}
		return Shapes(4, 32, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open("toy-test:7", "test")
	if err != nil || d.Len() != 4 || got != [2]string{"7", "test"} || d.Source != "toy-test:7" {
		t.Fatalf("Open: %v, %v, %v", d, err, got)
	}
	if _, err := Open("toy-test:bad", "train"); err == nil || !strings.Contains(err.Error(), `data "toy-test:bad": bad count`) {
		t.Errorf("opener error: %v", err)
	}
	for _, k := range []string{"toy-test", "mnist", "", "a:b"} {
		if err := Register(k, nil); err == nil {
			t.Errorf("Register(%q) accepted", k)
		}
	}
	if _, err := Open("nothing:1", "train"); err == nil || !strings.Contains(err.Error(), "toy-test") {
		t.Errorf("unknown kind: %v", err)
	}
}

// TestParseCount: an empty argument is the default; anything but a
// positive integer is an error naming it.
func TestParseCount(t *testing.T) {
	if n, err := ParseCount("", 7); n != 7 || err != nil {
		t.Errorf("empty: %d, %v", n, err)
	}
	if n, err := ParseCount("12", 7); n != 12 || err != nil {
		t.Errorf("12: %d, %v", n, err)
	}
	for _, bad := range []string{"0", "-1", "1.5", "ten"} {
		if _, err := ParseCount(bad, 7); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("bad count %q", bad)) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := Open("shapes:ten", "train"); err == nil || !strings.Contains(err.Error(), `data "shapes:ten": bad count "ten"`) {
		t.Errorf("shapes:ten: %v", err)
	}
}
