package textenc

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

// IsDir reports whether dir holds a text encoder (a config.json of
// transformers' CLIPTextModel: model_type clip_text_model, or
// CLIPTextModel among its architectures) rather than a U-Net.
func IsDir(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return false
	}
	var c struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if json.Unmarshal(b, &c) != nil {
		return false
	}
	return c.ModelType == "clip_text_model" || slices.Contains(c.Architectures, "CLIPTextModel")
}

// PredictNPZ runs the encoder on the token ids of an .npz file and writes
// its outputs to another, as transformers' CLIPTextModel returns them: the
// input holds "input_ids" (N, L) of int64 (or int32) and optionally
// "attention_mask" (N, L) of 1 and 0; the output "last_hidden_state"
// (N, L, hidden_size) and "pooler_output" (N, hidden_size), float32,
// written atomically.
func (m *Model) PredictNPZ(inPath, outPath string) error {
	in, err := npzio.Read(inPath)
	if err != nil {
		return err
	}
	for k := range in {
		if k != "input_ids" && k != "attention_mask" {
			return fmt.Errorf("%s: unexpected array %q (want input_ids, attention_mask)", inPath, k)
		}
	}
	ids, ok := in["input_ids"]
	if !ok {
		return fmt.Errorf("%s: no array \"input_ids\"", inPath)
	}
	if ids.I64 == nil || len(ids.Shape) != 2 {
		return fmt.Errorf("%s: \"input_ids\" is %s %v, want int64 (N, L)", inPath, ids.Dtype(), ids.Shape)
	}
	n, l := ids.Shape[0], ids.Shape[1]
	var mask []float32
	if a, ok := in["attention_mask"]; ok {
		if len(a.Shape) != 2 || a.Shape[0] != n || a.Shape[1] != l {
			return fmt.Errorf("%s: \"attention_mask\" has shape %v, want (N, L) = [%d %d]", inPath, a.Shape, n, l)
		}
		mask = a.Floats()
		for i, v := range mask {
			if v != 0 && v != 1 {
				return fmt.Errorf("%s: \"attention_mask\" value %g at %d: want 0 or 1", inPath, v, i)
			}
		}
	}
	hidden, pooled, err := m.Encode(ids.I64, mask, n, l)
	if err != nil {
		return fmt.Errorf("%s: %w", inPath, err)
	}
	return npzio.Write(outPath, []string{"last_hidden_state", "pooler_output"}, map[string]npzio.Array{
		"last_hidden_state": npzio.Float32(hidden.Float32s(), n, l, m.Config.HiddenSize),
		"pooler_output":     npzio.Float32(pooled.Float32s(), n, m.Config.HiddenSize),
	})
}
