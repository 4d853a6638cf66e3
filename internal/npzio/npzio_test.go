package npzio

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.npz")
	in := map[string]Array{
		"x": Float32([]float32{1, 2, 3, 4, 5, 6}, 2, 1, 3),
		"t": Int64([]int64{7, -8}, 2),
		"s": Float32([]float32{0.5}),
		"d": Float64([]float64{1e-300, -2.5}, 2),
	}
	if err := Write(path, []string{"x", "t", "s", "d"}, in); err != nil {
		t.Fatal(err)
	}
	out, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, a := range in {
		b := out[k]
		if len(b.Shape) != len(a.Shape) || b.Dtype() != a.Dtype() || b.Len() != a.Len() {
			t.Fatalf("%s: got %v %s, want %v %s", k, b.Shape, b.Dtype(), a.Shape, a.Dtype())
		}
		for i := range a.F32 {
			if a.F32[i] != b.F32[i] {
				t.Errorf("%s[%d] = %g, want %g", k, i, b.F32[i], a.F32[i])
			}
		}
		for i := range a.F64 {
			if a.F64[i] != b.F64[i] {
				t.Errorf("%s[%d] = %g, want %g", k, i, b.F64[i], a.F64[i])
			}
		}
		for i := range a.I64 {
			if a.I64[i] != b.I64[i] {
				t.Errorf("%s[%d] = %d, want %d", k, i, b.I64[i], a.I64[i])
			}
		}
	}
}

func TestWriteKeepsOldFileOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.npz")
	if err := Write(path, []string{"x"}, map[string]Array{"x": Float32([]float32{1}, 1)}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	// Shape and data disagree: an error, and the old file stays.
	if err := Write(path, []string{"x"}, map[string]Array{"x": Float32([]float32{1, 2}, 3)}); err == nil {
		t.Fatal("inconsistent array written")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed write changed the file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	good := filepath.Join(dir, "good.npz")
	Write(good, []string{"x"}, map[string]Array{"x": Float32(make([]float32, 100), 10, 10)})
	b, _ := os.ReadFile(good)
	for name, data := range map[string][]byte{
		"empty.npz":     {},
		"truncated.npz": b[:len(b)/2],
		"text.npz":      []byte("hello"),
	} {
		if _, err := Read(write(name, data)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v", name, err)
		}
	}
	if _, err := ReadNpy(write("bad.npy", []byte("\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'"))); err == nil {
		t.Error("malformed npy accepted")
	}
}

// FuzzReadNpy feeds arbitrary bytes to the .npy reader: it must return an
// array whose data matches its shape, or an error, and never panic.
func FuzzReadNpy(f *testing.F) {
	var buf bytes.Buffer
	dir := f.TempDir()
	p := filepath.Join(dir, "s.npz")
	Write(p, []string{"x", "i"}, map[string]Array{"x": Float32([]float32{1, 2, 3, 4}, 2, 2), "i": Int64([]int64{1, 2}, 2)})
	arrays, _ := os.ReadFile(p)
	f.Add(arrays)
	f.Add(buf.Bytes())
	f.Add([]byte("\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }                                                          \n\x00\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\x80@"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := readNpy(data)
		if err != nil {
			return
		}
		if a.values() != a.Len() {
			t.Fatalf("shape %v with %d values", a.Shape, a.values())
		}
	})
}

// TestEmptyArrays writes arrays with a zero in their shape byte for byte
// as numpy's np.save does (the expected bytes are numpy 1.24's) and reads
// them back with their shapes.
func TestEmptyArrays(t *testing.T) {
	pad := func(h string) string { return h + strings.Repeat(" ", 118-len(h)-1) + "\n" }
	for _, c := range []struct {
		a    Array
		want string
	}{
		{Float32(nil, 0, 3), "\x93NUMPY\x01\x00v\x00" + pad("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }")},
		{Int64([]int64{}, 0), "\x93NUMPY\x01\x00v\x00" + pad("{'descr': '<i8', 'fortran_order': False, 'shape': (0,), }")},
		{Array{Shape: []int{2, 0, 4}, U8: []uint8{}}, "\x93NUMPY\x01\x00v\x00" + pad("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 0, 4), }")},
	} {
		var b bytes.Buffer
		if err := writeNpy(&b, c.a); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("%v %s: wrote %q, numpy writes %q", c.a.Shape, c.a.Dtype(), b.String(), c.want)
		}
		path := filepath.Join(t.TempDir(), "e.npz")
		if err := Write(path, []string{"e"}, map[string]Array{"e": c.a}); err != nil {
			t.Fatal(err)
		}
		back, err := Read(path)
		if err != nil {
			t.Fatalf("%v: %v", c.a.Shape, err)
		}
		if e := back["e"]; !slices.Equal(e.Shape, c.a.Shape) || e.Dtype() != c.a.Dtype() || e.Len() != 0 {
			t.Errorf("read back %v %s, wrote %v %s", e.Shape, e.Dtype(), c.a.Shape, c.a.Dtype())
		}
	}
}
