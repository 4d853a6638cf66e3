package unet

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
)

// File names inside a model directory.
const (
	ConfigFile  = "config.json" // diffusers' UNet2DModel config
	WeightsFile = "model.npz"   // float32 weights by state_dict name
)

// Load reads a model directory: config.json (diffusers' UNet2DModel config)
// and model.npz (float32 arrays keyed by diffusers' parameter names, in
// PyTorch layouts). Every parameter must be present with its exact shape and
// no other array may appear; the error names the directory, the file and the
// first offending key.
func Load(dir string) (*Model, error) {
	c, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	m, err := New(c, 0)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	if err := m.LoadWeights(filepath.Join(dir, WeightsFile)); err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	return m, nil
}

// LoadWeights replaces the model's parameters with those of an .npz file.
// Nothing changes unless every weight checks out.
func (m *Model) LoadWeights(path string) error {
	arrays, err := npzio.Read(path)
	if err != nil {
		return err
	}
	ts := make(map[string]*tensor.Dense, len(arrays))
	for k, a := range arrays {
		if a.F32 == nil {
			return fmt.Errorf("%s: weight %q has dtype %s, want float32", path, k, a.Dtype())
		}
		ts[k] = tensor.New(tensor.WithShape(a.Shape...), tensor.WithBacking(a.F32))
	}
	if err := m.Params.Set(ts); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// SaveWeights writes the model's parameters to an .npz file atomically.
func (m *Model) SaveWeights(path string) error {
	names := m.Params.Names()
	arrays := make(map[string]npzio.Array, len(names))
	for _, n := range names {
		t := m.Params.Get(n)
		arrays[n] = npzio.Float32(t.Data().([]float32), t.Shape().Clone()...)
	}
	return npzio.Write(path, names, arrays)
}

// Save writes the model directory (creating it if needed): model.npz, then
// config.json, each atomically, so an interrupted save never leaves a
// truncated file in place of a good one.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := m.SaveWeights(filepath.Join(dir, WeightsFile)); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	b, err := json.MarshalIndent(m.Config, "", "  ")
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	err = fsutil.WriteAtomic(filepath.Join(dir, ConfigFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// Fingerprint returns a short hash of the model's configuration and
// weights: two models with the same fingerprint compute the same function.
// Adaptors and studies record it to refuse another model's files.
func (m *Model) Fingerprint() string {
	h := sha256.New()
	b, _ := json.Marshal(m.Config)
	h.Write(b)
	var buf [4]byte
	for _, n := range m.Params.Names() {
		h.Write([]byte(n))
		for _, v := range m.Params.Data(n) {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			h.Write(buf[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
