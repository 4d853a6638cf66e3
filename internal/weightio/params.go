package weightio

import (
	"fmt"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/nn"
)

// LoadParams replaces a parameter store's values with those of a weights
// file of any format Read takes, leaving out the names in drop (buffers a
// format carries that are not parameters). Every parameter must be there
// with its shape, as float32 (the F16, BF16 and F64 tensors of safetensors
// and a .bin's float types are converted on reading; an .npz must hold
// float32), and nothing else;
// nothing changes unless all check out, and the error names the file and
// the first offending key.
func LoadParams(path string, p *nn.Params, drop ...string) error {
	arrays, err := Read(path)
	if err != nil {
		return err
	}
	for _, d := range drop {
		delete(arrays, d)
	}
	ts := make(map[string]*tensor.Dense, len(arrays))
	for k, a := range arrays {
		if a.F32 == nil {
			return fmt.Errorf("%s: weight %q has dtype %s, want float32", path, k, a.Dtype())
		}
		ts[k] = tensor.New(tensor.WithShape(a.Shape...), tensor.WithBacking(a.F32))
	}
	if err := p.Set(ts); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// SaveParams writes a parameter store atomically as float32 arrays by name,
// in the format its extension names: .safetensors or .npz.
func SaveParams(path string, p *nn.Params) error {
	names := p.Names()
	arrays := make(map[string]npzio.Array, len(names))
	for _, n := range names {
		arrays[n] = npzio.Float32(p.Data(n), p.Get(n).Shape().Clone()...)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		return WriteSafetensors(path, names, arrays)
	case ".npz":
		return npzio.Write(path, names, arrays)
	}
	return fmt.Errorf("write %s: weights are written as .safetensors or .npz", path)
}
