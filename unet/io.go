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

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/weightio"
)

// File names inside a model directory.
const (
	ConfigFile = "config.json" // diffusers' UNet2DModel or UNet2DConditionModel config
	// WeightsFile is what Save writes: float32 weights by state_dict name,
	// as diffusers' save_pretrained names them.
	WeightsFile = "diffusion_pytorch_model.safetensors"
	// NPZFile is the toolkit's first format, still read (the shipped
	// models hold it).
	NPZFile = "model.npz"
	// PipelineIndex marks a diffusers pipeline directory, whose U-Net lies
	// in its unet/ subdirectory.
	PipelineIndex = "model_index.json"
	// PipelineUNet is a pipeline's U-Net subdirectory.
	PipelineUNet = "unet"
)

// WeightsFiles are the weights files a model directory may hold, in the
// order Load prefers them: diffusers' safetensors, the toolkit's .npz,
// PyTorch's pickled state dict, and the half-precision variant
// (save_pretrained(variant="fp16")). Floats of any width load as float32.
var WeightsFiles = []string{WeightsFile, NPZFile, "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.fp16.bin"}

// Dir returns the directory holding the U-Net of a model directory: dir
// itself, or its unet/ subdirectory when dir is a diffusers pipeline (it
// holds model_index.json).
func Dir(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, PipelineIndex)); err == nil {
		return filepath.Join(dir, PipelineUNet)
	}
	return dir
}

// Load reads a model directory: config.json (diffusers' UNet2DModel or
// UNet2DConditionModel config) and the weights in the first of
// WeightsFiles present (arrays keyed by diffusers' parameter names, in
// PyTorch layouts), or the same in the unet/ subdirectory of a diffusers
// pipeline (see Dir). Every parameter must be present with its exact shape
// and no other array may appear; the error names the directory, the file
// and the first offending key.
func Load(dir string) (*Model, error) {
	dir = Dir(dir)
	c, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	m, err := New(c, 0)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	path, err := weightio.Find(dir, WeightsFiles...)
	if err == nil {
		err = m.LoadWeights(path)
	}
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	return m, nil
}

// LoadWeights replaces the model's parameters with those of a weights file
// (.safetensors, .npz or a PyTorch .bin; see weightio.Read). Nothing changes
// unless every weight checks out.
func (m *Model) LoadWeights(path string) error { return weightio.LoadParams(path, m.Params) }

// SaveWeights writes the model's parameters atomically as float32, in the
// format path's extension names (.safetensors or .npz).
func (m *Model) SaveWeights(path string) error { return weightio.SaveParams(path, m.Params) }

// Save writes the model directory (creating it if needed): the weights as
// WeightsFile, then config.json, each atomically, so an interrupted save
// never leaves a truncated file in place of a good one. The directory is
// one that diffusers' from_pretrained loads; weights files of other
// formats already there are removed once the new one is in place, so that
// the directory holds one set of weights.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := m.SaveWeights(filepath.Join(dir, WeightsFile)); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := weightio.RemoveOthers(dir, WeightsFile, WeightsFiles); err != nil {
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
