package npzio

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"unsafe"

	"codeberg.org/sbinet/npyio/npy"
	"codeberg.org/sbinet/npyio/npz"

	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// Array is one named numeric array: exactly one of F32, F64, I64 and U8 is
// set.
type Array struct {
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
	U8    []uint8
	// Stored is the dtype of the file's array when reading converted it
	// ("int32", widened into I64), so that messages name what the user
	// has; empty otherwise.
	Stored string
}

// Float32 returns a float32 array of the given shape over data.
func Float32(data []float32, shape ...int) Array { return Array{Shape: shape, F32: data} }

// Float64 returns a float64 array of the given shape over data.
func Float64(data []float64, shape ...int) Array { return Array{Shape: shape, F64: data} }

// Int64 returns an int64 array of the given shape over data.
func Int64(data []int64, shape ...int) Array { return Array{Shape: shape, I64: data} }

// Len returns the number of elements the shape holds.
func (a Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Dtype returns "float32", "float64", "int64" or "uint8", or the dtype
// the array had in its file when reading converted it (Stored: "int32").
func (a Array) Dtype() string {
	if a.Stored != "" {
		return a.Stored
	}
	switch {
	case a.I64 != nil:
		return "int64"
	case a.F64 != nil:
		return "float64"
	case a.U8 != nil:
		return "uint8"
	}
	return "float32"
}

// Floats returns the array's values as float32, whatever its numeric
// dtype (a mask stored as int64, uint8 or float64, say). The values of a
// float32 array are returned, not copied.
func (a Array) Floats() []float32 {
	if a.F32 != nil {
		return a.F32
	}
	out := make([]float32, 0, a.values())
	for _, v := range a.F64 {
		out = append(out, float32(v))
	}
	for _, v := range a.I64 {
		out = append(out, float32(v))
	}
	for _, v := range a.U8 {
		out = append(out, float32(v))
	}
	return out
}

// values returns the number of elements the array holds.
func (a Array) values() int { return max(len(a.F32), len(a.F64), len(a.I64), len(a.U8)) }

// Read reads every array of an .npz file. Arrays of other dtypes than
// float32, float64, int32, int64 and uint8 are an error; int32 is widened
// to int64.
func Read(path string) (map[string]Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	out, err := ReadBytes(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ReadBytes reads every array of an .npz archive of the given size.
func ReadBytes(ra io.ReaderAt, size int64) (map[string]Array, error) {
	r, err := npz.NewReader(ra, size)
	if err != nil {
		return nil, fmt.Errorf("not a readable .npz file: %w", err)
	}
	out := map[string]Array{}
	for _, key := range r.Keys() {
		name := strings.TrimSuffix(key, ".npy")
		rc, err := r.Open(key)
		if err != nil {
			return nil, fmt.Errorf("array %q: %w", name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("array %q: corrupt archive member: %w", name, err)
		}
		a, err := readNpy(data)
		if err != nil {
			return nil, fmt.Errorf("array %q: %w", name, err)
		}
		out[name] = a
	}
	return out, nil
}

// ReadNpy reads a single .npy file.
func ReadNpy(path string) (Array, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Array{}, err
	}
	a, err := readNpy(data)
	if err != nil {
		return Array{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// readNpy decodes one .npy image. Sizes declared in the header are checked
// against the bytes present before anything is allocated for them.
func readNpy(data []byte) (a Array, err error) {
	defer func() {
		// npyio panics on some malformed headers; report them as errors.
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed npy data: %v", r)
		}
	}()
	if len(data) < 10 || string(data[:6]) != "\x93NUMPY" {
		return Array{}, fmt.Errorf("not npy data (bad magic)")
	}
	hdrLen, start := int(binary.LittleEndian.Uint16(data[8:10])), 10
	if data[6] >= 2 {
		if len(data) < 12 {
			return Array{}, fmt.Errorf("truncated npy header")
		}
		hdrLen, start = int(binary.LittleEndian.Uint32(data[8:12])), 12
	}
	if hdrLen > len(data)-start {
		return Array{}, fmt.Errorf("npy header of %d bytes in %d bytes of data", hdrLen, len(data))
	}
	r, err := npy.NewReader(bytes.NewReader(data))
	if err != nil {
		return Array{}, fmt.Errorf("malformed npy header: %w", err)
	}
	h := r.Header.Descr
	if h.Fortran {
		return Array{}, fmt.Errorf("Fortran-ordered arrays are not supported")
	}
	a.Shape = slices.Clone(h.Shape)
	n := 1
	for _, d := range a.Shape {
		if d < 0 || (d > 0 && n > (len(data)+1)/d) {
			return Array{}, fmt.Errorf("shape %v does not fit in %d bytes of data", h.Shape, len(data))
		}
		n *= d
	}
	if body := len(data) - start - hdrLen; n > body {
		// Every supported dtype has at least 1 byte per element.
		return Array{}, fmt.Errorf("shape %v needs more than the %d bytes of data present", h.Shape, body)
	}
	dtype := strings.Trim(h.Type, `'" `)
	switch dtype {
	case "<f4", "|f4":
		err = r.Read(&a.F32)
	case "<f8", "|f8":
		err = r.Read(&a.F64)
	case "|u1", "<u1":
		err = r.Read(&a.U8)
	case "<i8", "|i8":
		err = r.Read(&a.I64)
	case "<i4", "|i4":
		var v []int32
		if err = r.Read(&v); err == nil {
			a.Stored = "int32"
			a.I64 = make([]int64, len(v))
			for i, x := range v {
				a.I64[i] = int64(x)
			}
		}
	default:
		return Array{}, fmt.Errorf("dtype %q is not supported (want float32, float64, int32, int64 or uint8)", dtype)
	}
	if err != nil {
		return Array{}, fmt.Errorf("truncated or malformed data: %w", err)
	}
	if got := a.values(); got != n {
		return Array{}, fmt.Errorf("holds %d values, shape %v needs %d", got, a.Shape, n)
	}
	return a, nil
}

// value returns the array as npyio writes it with its shape.
func (a Array) value() any {
	switch {
	case a.I64 != nil:
		return nd(a.I64, a.Shape)
	case a.F64 != nil:
		return nd(a.F64, a.Shape)
	case a.U8 != nil:
		return nd(a.U8, a.Shape)
	}
	return nd(a.F32, a.Shape)
}

// nd returns data viewed as a nested Go array of the given shape, which npyio
// writes with that shape.
func nd[T float32 | float64 | int64 | uint8](data []T, shape []int) any {
	if len(shape) == 0 {
		return data[0]
	}
	t := reflect.TypeFor[T]()
	for i := len(shape) - 1; i >= 0; i-- {
		t = reflect.ArrayOf(shape[i], t)
	}
	if len(data) == 0 {
		// An empty array (a zero in the shape): a zero-sized value of
		// the nested type, so that the header keeps the shape.
		return reflect.New(t).Elem().Interface()
	}
	return reflect.NewAt(t, unsafe.Pointer(&data[0])).Elem().Interface()
}

// Write writes the arrays to an .npz file in the given key order (every key
// of arrays must be listed). The file is written to a temporary name in the
// same directory, synced, then renamed over path, so a reader never sees a
// partial file and an interrupted write leaves any old file intact.
func Write(path string, order []string, arrays map[string]Array) error {
	if len(order) != len(arrays) {
		return fmt.Errorf("write %s: %d names for %d arrays", path, len(order), len(arrays))
	}
	for _, k := range order {
		a, ok := arrays[k]
		if !ok {
			return fmt.Errorf("write %s: no array %q", path, k)
		}
		if a.values() != a.Len() {
			return fmt.Errorf("write %s: array %q has %d values for shape %v", path, k, a.values(), a.Shape)
		}
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error {
		// An .npz is a zip of .npy entries (npz.Writer's layout, here
		// with archive/zip so that empty arrays get their own header).
		zw := zip.NewWriter(w)
		for _, k := range order {
			e, err := zw.Create(k)
			if err != nil {
				return err
			}
			if err := writeNpy(e, arrays[k]); err != nil {
				return fmt.Errorf("array %q: %w", k, err)
			}
		}
		return zw.Close()
	})
}

// writeNpy writes one array in the .npy format: by npyio, but an empty
// array (a zero in its shape, which npyio cannot express) as the format's
// version 1.0 header alone.
func writeNpy(w io.Writer, a Array) error {
	if a.Len() > 0 || len(a.Shape) == 0 {
		return npy.Write(w, a.value())
	}
	descr := map[string]string{"float32": "<f4", "float64": "<f8", "int64": "<i8", "uint8": "|u1"}[a.Dtype()]
	dims := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = fmt.Sprint(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	// Magic, version, header length, then the header padded with spaces
	// and a newline to a multiple of 64 bytes.
	pad := 64 - (10+len(h)+1)%64
	if pad == 64 {
		pad = 0
	}
	h += strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	_, err := w.Write(b.Bytes())
	return err
}

// WriteNpy writes one array to an .npy file atomically.
func WriteNpy(path string, a Array) error {
	if a.values() != a.Len() {
		return fmt.Errorf("write %s: %d values for shape %v", path, a.values(), a.Shape)
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error { return writeNpy(w, a) })
}
