package weightio

import (
	"fmt"
	"os"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/sysmem"
)

// readTorch reads a state dict saved by torch.save: a mapping from names to
// tensors (an OrderedDict, or a dict holding one under "state_dict").
func readTorch(path string) (map[string]npzio.Array, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := sysmem.Check(3*float64(st.Size()), fmt.Sprintf("reading %s (%d bytes)", path, st.Size())); err != nil {
		return nil, err
	}
	obj, err := loadTorch(path)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PyTorch state dict: %w", path, err)
	}
	entries, err := stateDict(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string]npzio.Array, len(entries))
	for _, e := range entries {
		name, ok := e.Key.(string)
		if !ok {
			return nil, fmt.Errorf("%s: a state dict key is %T, not a name", path, e.Key)
		}
		t, ok := e.Value.(*pytorch.Tensor)
		if !ok {
			return nil, fmt.Errorf("%s: %q is %T, not a tensor", path, name, e.Value)
		}
		a, err := fromTorch(t)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", path, name, err)
		}
		out[name] = a
	}
	return out, nil
}

// loadTorch runs gopickle's loader, turning its panics on malformed input
// into errors.
func loadTorch(path string) (obj any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed pickle: %v", r)
		}
	}()
	return pytorch.Load(path)
}

type entry struct{ Key, Value any }

// stateDict returns the entries of a loaded state dict, in its order.
func stateDict(obj any) ([]entry, error) {
	var out []entry
	switch d := obj.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			kv := e.Value.(*types.OrderedDictEntry)
			out = append(out, entry{kv.Key, kv.Value})
		}
	case *types.Dict:
		if sd, ok := d.Get("state_dict"); ok {
			return stateDict(sd)
		}
		for _, kv := range *d {
			out = append(out, entry{kv.Key, kv.Value})
		}
	default:
		return nil, fmt.Errorf("holds a %T, not a state dict", obj)
	}
	return out, nil
}

// fromTorch gathers a tensor's elements, in its strides, as float32 or
// int64.
func fromTorch(t *pytorch.Tensor) (npzio.Array, error) {
	a := npzio.Array{Shape: append([]int{}, t.Size...)}
	n := a.Len()
	if len(t.Stride) != len(t.Size) {
		return a, fmt.Errorf("%d strides for %d dimensions", len(t.Stride), len(t.Size))
	}
	var f32 []float32
	var f64 []float64
	var i64 []int64
	var i32 []int32
	var size int
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		f32, size = s.Data, len(s.Data)
	case *pytorch.HalfStorage:
		// gopickle converts half precision itself, through tables that get
		// subnormals, −0, infinities and NaN wrong: refuse rather than
		// load wrong weights.
		return a, fmt.Errorf("half-precision (float16) tensors in a PyTorch .bin are not supported: convert the file to safetensors (save_pretrained's default), whose float16 loads exactly")
	case *pytorch.BFloat16Storage:
		f32, size, a.Stored = s.Data, len(s.Data), "bfloat16"
	case *pytorch.DoubleStorage:
		f64, size, a.Stored = s.Data, len(s.Data), "float64"
	case *pytorch.LongStorage:
		i64, size = s.Data, len(s.Data)
	case *pytorch.IntStorage:
		i32, size, a.Stored = s.Data, len(s.Data), "int32"
	default:
		return a, fmt.Errorf("storage %T is not supported (want float, bfloat16, double, long or int)", t.Source)
	}
	// The shape and strides must stay within the storage before anything
	// is allocated: the lowest and highest offsets the tensor reaches.
	lo, hi := t.StorageOffset, t.StorageOffset
	for d, sz := range t.Size {
		switch {
		case sz < 0:
			return a, fmt.Errorf("dimension %d of size %d", d, sz)
		case sz == 0: // no elements
			if f32 != nil || f64 != nil {
				a.F32 = []float32{}
			} else {
				a.I64 = []int64{}
			}
			return a, nil
		}
		if span := (sz - 1) * t.Stride[d]; span >= 0 {
			hi += span
		} else {
			lo += span
		}
	}
	if lo < 0 || hi >= size {
		return a, fmt.Errorf("shape %v, strides %v and offset %d reach outside the storage's %d values", t.Size, t.Stride, t.StorageOffset, size)
	}
	// The flat offset of every element, checked against the storage.
	idx := make([]int, len(t.Size))
	off := func() int {
		o := t.StorageOffset
		for d, i := range idx {
			o += i * t.Stride[d]
		}
		return o
	}
	if f32 != nil || f64 != nil {
		a.F32 = make([]float32, n)
	} else {
		a.I64 = make([]int64, n)
	}
	for k := 0; k < n; k++ {
		o := off()
		if o < 0 || o >= size {
			return a, fmt.Errorf("element %d at storage offset %d outside its %d values", k, o, size)
		}
		switch {
		case f32 != nil:
			a.F32[k] = f32[o]
		case f64 != nil:
			a.F32[k] = float32(f64[o])
		case i32 != nil:
			a.I64[k] = int64(i32[o])
		default:
			a.I64[k] = i64[o]
		}
		for d := len(idx) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < t.Size[d] {
				break
			}
			idx[d] = 0
		}
	}
	return a, nil
}
