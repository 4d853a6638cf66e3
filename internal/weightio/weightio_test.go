package weightio

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/nn"
)

// same reports the first difference between a read array and the wanted
// one: shape, kind, or a value (bits for floats).
func same(t *testing.T, what string, got, want npzio.Array) {
	t.Helper()
	if len(got.Shape) != len(want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	for i := range got.Shape {
		if got.Shape[i] != want.Shape[i] {
			t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
		}
	}
	switch {
	case want.F32 != nil:
		if len(got.F32) != len(want.F32) {
			t.Fatalf("%s: %d float32 values (%s), want %d", what, len(got.F32), got.Dtype(), len(want.F32))
		}
		for i := range want.F32 {
			if math.Float32bits(got.F32[i]) != math.Float32bits(want.F32[i]) {
				t.Fatalf("%s[%d] = %g, want %g", what, i, got.F32[i], want.F32[i])
			}
		}
	case want.I64 != nil:
		if len(got.I64) != len(want.I64) {
			t.Fatalf("%s: %d int64 values (%s), want %d", what, len(got.I64), got.Dtype(), len(want.I64))
		}
		for i := range want.I64 {
			if got.I64[i] != want.I64[i] {
				t.Fatalf("%s[%d] = %d, want %d", what, i, got.I64[i], want.I64[i])
			}
		}
	default:
		t.Fatalf("%s: fixture of dtype %s", what, want.Dtype())
	}
}

// TestReadFixtures: safetensors (F32, F16, BF16, F64, I64, I32, a scalar)
// and a torch.save state dict (a strided view with a storage offset,
// bfloat16, double, long, int), both written by PyTorch's side
// (scripts/reference/make_pretrained_fixtures.py), read to the values
// PyTorch converts them to, bit for bit, the file's dtype kept in Stored.
func TestReadFixtures(t *testing.T) {
	want, err := npzio.Read("testdata/mixed.npz")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Read("testdata/mixed.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 7 {
		t.Errorf("%d tensors in mixed.safetensors, want 7", len(st))
	}
	for _, k := range []string{"f32", "f16", "bf16", "f64", "i64", "i32", "scalar"} {
		same(t, "safetensors "+k, st[k], want[k])
	}
	stored := map[string]string{"f16": "float16", "bf16": "bfloat16", "f64": "float64", "i32": "int32", "f32": "", "i64": ""}
	for k, s := range stored {
		if st[k].Stored != s {
			t.Errorf("safetensors %s: Stored %q, want %q", k, st[k].Stored, s)
		}
	}
	bin, err := Read("testdata/mixed.bin")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "bin view", bin["view"], want["bin_view"])
	for _, k := range []string{"f32", "bf16", "f64", "i64", "i32"} {
		same(t, "bin "+k, bin[k], want[k])
		if bin[k].Stored != stored[k] {
			t.Errorf("bin %s: Stored %q, want %q", k, bin[k].Stored, stored[k])
		}
	}
}

// TestWriteReadRoundTrip: what WriteSafetensors writes reads back bit for
// bit, NaN payloads and signed zeros included, and a parameter store
// survives SaveParams and LoadParams in both formats.
func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	vals := []float32{0, float32(math.Copysign(0, -1)), 1.5, -3e-39, math.MaxFloat32, float32(math.Inf(-1)), math.Float32frombits(0x7fc00001)}
	arrays := map[string]npzio.Array{"b.x": npzio.Float32(vals, 7), "a": npzio.Float32([]float32{1, 2, 3, 4, 5, 6}, 2, 1, 3)}
	path := filepath.Join(dir, "w.safetensors")
	if err := WriteSafetensors(path, []string{"b.x", "a"}, arrays); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, a := range arrays {
		same(t, k, got[k], a)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b[:200]), `"__metadata__":{"format":"pt"}`) {
		t.Errorf("header %q lacks diffusers' format metadata", b[8:100])
	}
	if err := WriteSafetensors(path, []string{"i"}, map[string]npzio.Array{"i": npzio.Int64([]int64{1}, 1)}); err == nil || !strings.Contains(err.Error(), `"i" is int64`) {
		t.Errorf("writing int64: %v", err)
	}
	if got, _ := Read(path); len(got) != 2 {
		t.Error("a refused write replaced the file")
	}

	p := nn.NewParams()
	p.Declare("w", 1, nn.Normal(1), 2, 3)
	p.Declare("b", 2, nn.Normal(1), 3)
	for _, ext := range []string{".safetensors", ".npz"} {
		path := filepath.Join(dir, "p"+ext)
		if err := SaveParams(path, p); err != nil {
			t.Fatal(err)
		}
		q := nn.NewParams()
		q.Declare("w", 3, nn.Const(0), 2, 3)
		q.Declare("b", 3, nn.Const(0), 3)
		if err := LoadParams(path, q); err != nil {
			t.Fatal(err)
		}
		for _, n := range p.Names() {
			same(t, ext+" "+n, npzio.Float32(q.Data(n), q.Get(n).Shape().Clone()...), npzio.Float32(p.Data(n), p.Get(n).Shape().Clone()...))
		}
	}
	if err := SaveParams(filepath.Join(dir, "p.bin"), p); err == nil {
		t.Error("SaveParams wrote a .bin")
	}
}

// TestReadBadFiles: malformed or unreadable weights are errors naming the
// file, never panics.
func TestReadBadFiles(t *testing.T) {
	dir := t.TempDir()
	good, _ := os.ReadFile("testdata/mixed.safetensors")
	goodBin, _ := os.ReadFile("testdata/mixed.bin")
	header := func(h string) []byte {
		b := make([]byte, 8, 8+len(h))
		b[0] = byte(len(h))
		return append(b, h...)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"x.safetensors", good[:len(good)-3], "not a safetensors file"},
		{"x.safetensors", good[:5], "not a safetensors file"},
		{"x.safetensors", []byte("\xff\xff\xff\xff\xff\xff\xff\x7f{}"), "not a safetensors file"},
		{"x.safetensors", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`), "not a safetensors file"},
		{"x.safetensors", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`), "not a safetensors file"},
		{"x.safetensors", append(header(`{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`), 1), "dtype BOOL is not supported"},
		{"x.bin", goodBin[:len(goodBin)/2], "not a PyTorch state dict"},
		{"x.bin", []byte("not a pickle at all"), "not a PyTorch state dict"},
		{"x.h5", []byte("?"), "unknown weights format"},
		{"half.bin", mustReadFile(t, "testdata/half.bin"), "half-precision (float16) tensors in a PyTorch .bin are not supported"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s (%d bytes): %v, want an error naming it with %q", c.name, len(c.data), err, c.want)
		}
	}
	if _, err := Find(dir, "none.safetensors", "none.npz"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "none.safetensors, none.npz") {
		t.Errorf("Find with nothing there: %v", err)
	}
	if p, err := Find("testdata", "none.npz", "mixed.bin", "mixed.npz"); err != nil || p != filepath.Join("testdata", "mixed.bin") {
		t.Errorf("Find: %q, %v", p, err)
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
