package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

func TestGoMNISTVersionMatchesGoMod(t *testing.T) {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(regexp.QuoteMeta(goMNISTModule) + ` (\S+)`).FindSubmatch(b)
	if m == nil || string(m[1]) != goMNISTVersion {
		t.Fatalf("go.mod requires %s %s, the code looks for %s", goMNISTModule, m, goMNISTVersion)
	}
}

func TestMNIST(t *testing.T) {
	for _, c := range []struct {
		split string
		n     int
		first int64
	}{{"train", 60000, 5}, {"test", 10000, 7}} {
		d, err := MNIST(c.split, "", true)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != c.n || d.Labels[0] != c.first {
			t.Errorf("%s: %d images, first label %d; want %d, %d", c.split, d.Len(), d.Labels[0], c.n, c.first)
		}
		ch, h, w := d.Shape()
		if ch != 1 || h != 32 || w != 32 {
			t.Errorf("%s: image shape %d×%d×%d, want 1×32×32", c.split, ch, h, w)
		}
		img := make([]float32, 32*32)
		d.Image(0, img)
		lo, hi, border := float32(1), float32(-1), true
		for y := 0; y < 32; y++ {
			for x := 0; x < 32; x++ {
				v := img[y*32+x]
				lo, hi = min(lo, v), max(hi, v)
				if (y < 2 || y >= 30 || x < 2 || x >= 30) && v != -1 {
					border = false
				}
			}
		}
		if lo != -1 || hi != 1 || !border {
			t.Errorf("%s: first image spans [%g, %g], padding -1: %t", c.split, lo, hi, border)
		}
	}
	if _, err := MNIST("validation", "", false); err == nil {
		t.Error("unknown split accepted")
	}
	if _, err := MNIST("train", t.TempDir(), false); err == nil || !strings.Contains(err.Error(), "no train") {
		t.Errorf("empty directory: %v", err)
	}
	// IDX images larger than 32×32 cannot be padded to it: an error
	// naming the file, not a panic.
	big := t.TempDir()
	os.WriteFile(filepath.Join(big, "train-images-idx3-ubyte"), idx([]uint32{1, 40, 40}, make([]byte, 1600)), 0o644)
	os.WriteFile(filepath.Join(big, "train-labels-idx1-ubyte"), idx([]uint32{1}, []byte{3}), 0o644)
	if _, err := MNIST("train", big, true); err == nil || !strings.Contains(err.Error(), "40×40") || !strings.Contains(err.Error(), "train-images") {
		t.Errorf("40×40 images: %v", err)
	}
	if d, err := MNIST("train", big, false); err != nil || d.Len() != 1 {
		t.Errorf("40×40 images without padding: %v", err)
	}
}

func idx(dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	return b.Bytes()
}

func TestReadIDX(t *testing.T) {
	good := idx([]uint32{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	var gz bytes.Buffer
	z := gzip.NewWriter(&gz)
	z.Write(good)
	z.Close()
	for _, in := range [][]byte{good, gz.Bytes()} {
		dims, data, err := ReadIDX(bytes.NewReader(in))
		if err != nil || len(dims) != 2 || dims[1] != 3 || !bytes.Equal(data, []byte{1, 2, 3, 4, 5, 6}) {
			t.Errorf("ReadIDX: %v %v %v", dims, data, err)
		}
	}
	for name, in := range map[string][]byte{
		"empty":     {},
		"magic":     {1, 2, 8, 1, 0, 0, 0, 1, 9},
		"type":      {0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0},
		"dims":      {0, 0, 8, 9},
		"truncated": good[:len(good)-2],
		"huge":      idx([]uint32{0xffffffff, 0xffffffff}, nil),
		"gzip":      gz.Bytes()[:10],
	} {
		if _, _, err := ReadIDX(bytes.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	p := filepath.Join(t.TempDir(), "x.idx")
	os.WriteFile(p, good[:len(good)-1], 0o644)
	if _, _, err := ReadIDXFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("truncated file: error %v does not name it", err)
	}
}

// FuzzReadIDX: arbitrary bytes give data of the declared size or an error,
// never a panic.
func FuzzReadIDX(f *testing.F) {
	f.Add(idx([]uint32{2, 2}, []byte{1, 2, 3, 4}))
	f.Add(idx([]uint32{1}, []byte{7}))
	f.Fuzz(func(t *testing.T, in []byte) {
		dims, data, err := ReadIDX(bytes.NewReader(in))
		if err != nil {
			return
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("dims %v with %d bytes", dims, len(data))
		}
	})
}

func TestShapesAndLoader(t *testing.T) {
	a, _ := Shapes(50, 16, 1)
	b, _ := Shapes(50, 16, 1)
	c, _ := Shapes(50, 16, 2)
	if !bytes.Equal(a.U8, b.U8) || bytes.Equal(a.U8, c.U8) {
		t.Error("Shapes is not a function of its seed")
	}
	counts := map[int64]int{}
	for _, l := range a.Labels {
		counts[l]++
	}
	if len(counts) != len(ShapeNames) {
		t.Errorf("classes drawn: %v", counts)
	}
	l1, _ := NewLoader(a, 8, 5)
	l2, _ := NewLoader(a, 8, 5)
	x1, x2 := make([]float32, 8*3*16*16), make([]float32, 8*3*16*16)
	lab1, lab2 := make([]int64, 8), make([]int64, 8)
	for i := 0; i < 9; i++ { // crosses an epoch boundary (50/8 = 6 batches)
		l1.Next(x1, lab1)
	}
	// A loader restored from (Epoch, Pos) continues identically.
	l2.Epoch, l2.Pos = l1.Epoch, l1.Pos
	l1.Next(x1, lab1)
	l2.Next(x2, lab2)
	for i := range x1 {
		if x1[i] != x2[i] {
			t.Fatal("restored loader draws a different batch")
		}
	}
	if l1.Epoch != 1 {
		t.Errorf("epoch %d after 10 batches of 8 from 50", l1.Epoch)
	}
	if _, err := NewLoader(a, 64, 1); err == nil {
		t.Error("batch larger than the data accepted")
	}
}

func TestFromNPZ(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d.npz")
	npzio.Write(p, []string{"x", "y"}, map[string]npzio.Array{
		"x": {Shape: []int{3, 2, 2}, U8: []uint8{0, 255, 0, 255, 1, 2, 3, 4, 5, 6, 7, 8}},
		"y": npzio.Int64([]int64{0, 1, 1}, 3),
	})
	d, err := FromNPZ(p, "x", "y", 2)
	if err != nil {
		t.Fatal(err)
	}
	img := make([]float32, 4)
	d.Image(0, img)
	if d.Len() != 3 || img[0] != -1 || img[1] != 1 {
		t.Errorf("read %d images, first %v", d.Len(), img)
	}
	for _, c := range []struct{ key, labels, want string }{
		{"z", "", `no array "z"`},
		{"y", "", "shape"},
		{"x", "x", "int64"},
	} {
		if _, err := FromNPZ(p, c.key, c.labels, 2); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v", c, err)
		}
	}
	if _, err := FromNPZ(p, "x", "y", 1); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("label out of range: %v", err)
	}
}

func TestFromNPY(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.npy")
	if err := npzio.WriteNpy(p, npzio.Array{Shape: []int{2, 3, 3}, U8: make([]uint8, 18)}); err != nil {
		t.Fatal(err)
	}
	d, err := Open("npy:"+p, "train")
	if err != nil || d.Len() != 2 || d.C != 1 {
		t.Fatalf("npy: %v %v", d, err)
	}
	flat := filepath.Join(dir, "flat.npy")
	npzio.WriteNpy(flat, npzio.Float32(make([]float32, 4), 4))
	if _, err := Open("npy:"+flat, "train"); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("1-D array: %v", err)
	}
	if _, err := Open("npy:"+filepath.Join(dir, "none.npy"), "train"); err == nil {
		t.Error("missing file accepted")
	}
}
