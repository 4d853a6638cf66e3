package weightio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/nlpodyssey/safetensors"
	"github.com/x448/float16"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/sysmem"
)

// Read returns every tensor of a weights file, by the file's extension:
// .npz, .safetensors, or .bin, .pt and .pth (PyTorch state dicts).
// Floating-point tensors come back as float32, integer ones as int64; other
// dtypes (bool, unsigned integers above 8 bits) are an error naming the
// tensor and the file.
func Read(path string) (map[string]npzio.Array, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".npz":
		return npzio.Read(path)
	case ".safetensors":
		return readSafetensors(path)
	case ".bin", ".pt", ".pth":
		return readTorch(path)
	default:
		return nil, fmt.Errorf("%s: unknown weights format %q (want .npz, .safetensors, .bin, .pt or .pth)", path, ext)
	}
}

// readSafetensors reads a whole safetensors file.
func readSafetensors(path string) (map[string]npzio.Array, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	// The file is read whole, then its tensors are converted to float32:
	// up to three times its size at the peak.
	if err := sysmem.Check(3*float64(st.Size()), fmt.Sprintf("reading %s (%d bytes)", path, st.Size())); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	st2, err := safetensors.Deserialize(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a safetensors file: %w", path, err)
	}
	out := make(map[string]npzio.Array, st2.Len())
	for _, t := range st2.Tensors() {
		shape := make([]int, len(t.TensorView.Shape()))
		for i, d := range t.TensorView.Shape() {
			if d > math.MaxInt32 {
				return nil, fmt.Errorf("%s: tensor %q: dimension %d too large", path, t.Name, d)
			}
			shape[i] = int(d)
		}
		a, err := convert(t.TensorView.DType().String(), t.TensorView.Data(), shape)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", path, t.Name, err)
		}
		out[t.Name] = a
	}
	return out, nil
}

// convert decodes little-endian raw data of a safetensors dtype.
func convert(dtype string, raw []byte, shape []int) (npzio.Array, error) {
	a := npzio.Array{Shape: shape}
	n := a.Len()
	switch dtype {
	case "F32":
		a.F32 = make([]float32, n)
		for i := range a.F32 {
			a.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "F16":
		a.F32, a.Stored = make([]float32, n), "float16"
		for i := range a.F32 {
			a.F32[i] = float16.Frombits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
	case "BF16":
		// bfloat16 is the high half of a float32.
		a.F32, a.Stored = make([]float32, n), "bfloat16"
		for i := range a.F32 {
			a.F32[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case "F64":
		a.F32, a.Stored = make([]float32, n), "float64"
		for i := range a.F32 {
			a.F32[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	case "I64":
		a.I64 = make([]int64, n)
		for i := range a.I64 {
			a.I64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case "I32":
		a.I64, a.Stored = make([]int64, n), "int32"
		for i := range a.I64 {
			a.I64[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case "U8":
		a.U8 = append([]uint8(nil), raw[:n]...)
	default:
		return a, fmt.Errorf("dtype %s is not supported (want F32, F16, BF16, F64, I64, I32 or U8)", dtype)
	}
	return a, nil
}

// WriteSafetensors writes the float32 arrays named in order to path
// atomically as a safetensors file (the tensors in the format's own
// order: by name within a dtype), with the header metadata {"format":
// "pt"}. A non-float32 array, or one whose data does not fill its shape,
// is an error and nothing is written.
func WriteSafetensors(path string, order []string, arrays map[string]npzio.Array) error {
	views := make(map[string]safetensors.TensorView, len(order))
	for _, name := range order {
		a, ok := arrays[name]
		if !ok {
			return fmt.Errorf("write %s: no array %q", path, name)
		}
		if a.F32 == nil || len(a.F32) != a.Len() {
			return fmt.Errorf("write %s: array %q is %s with %d values for shape %v; want float32 filling it", path, name, a.Dtype(), len(a.F32), a.Shape)
		}
		raw := make([]byte, 4*len(a.F32))
		for i, v := range a.F32 {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		shape := make([]uint64, len(a.Shape))
		for i, d := range a.Shape {
			shape[i] = uint64(d)
		}
		v, err := safetensors.NewTensorView(safetensors.F32, shape, raw)
		if err != nil {
			return fmt.Errorf("write %s: array %q: %w", path, name, err)
		}
		views[name] = v
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error {
		return safetensors.SerializeToWriter(views, map[string]string{"format": "pt"}, w)
	})
}

// Find returns the path of the first of names present in dir, the order
// being a preference (diffusers prefers safetensors to .bin, as here). None
// present is an error naming dir and the names looked for.
func Find(dir string, names ...string) (string, error) {
	for _, n := range names {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s holds no weights file (looked for %s): %w", dir, strings.Join(names, ", "), fs.ErrNotExist)
}

// RemoveOthers removes from dir the files of names other than keep: the
// weights of other formats a directory held before a save wrote keep, so
// that it holds one set of weights. A file that is not there is no error.
func RemoveOthers(dir, keep string, names []string) error {
	for _, n := range names {
		if n == keep {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
