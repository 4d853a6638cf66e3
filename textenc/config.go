package textenc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/clockwork-go/clockwork/nn"
)

// Config is the configuration of a text encoder with transformers'
// CLIPTextConfig keys and defaults (models/clip/configuration_clip.py).
type Config struct {
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	IntermediateSize      int      `json:"intermediate_size"`
	ProjectionDim         int      `json:"projection_dim"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	HiddenAct             string   `json:"hidden_act"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	AttentionDropout      float64  `json:"attention_dropout"`
	InitializerRange      float64  `json:"initializer_range"`
	InitializerFactor     float64  `json:"initializer_factor"`
	PadTokenID            int      `json:"pad_token_id"`
	BosTokenID            int      `json:"bos_token_id"`
	EosTokenID            int      `json:"eos_token_id"`
	Architectures         []string `json:"architectures"`
	ModelType             string   `json:"model_type"`
}

// DefaultConfig returns CLIPTextConfig's defaults (the text tower of CLIP
// ViT-B/32).
func DefaultConfig() Config {
	return Config{VocabSize: 49408, HiddenSize: 512, IntermediateSize: 2048, ProjectionDim: 512, NumHiddenLayers: 12,
		NumAttentionHeads: 8, MaxPositionEmbeddings: 77, HiddenAct: nn.ActQuickGELU, LayerNormEps: 1e-5,
		InitializerRange: 0.02, InitializerFactor: 1, PadTokenID: 1, BosTokenID: 49406, EosTokenID: 49407,
		Architectures: []string{"CLIPTextModel"}, ModelType: "clip_text_model"}
}

// Validate reports the first setting this package does not build.
func (c Config) Validate() error {
	switch {
	case c.VocabSize <= 0 || c.HiddenSize <= 0 || c.IntermediateSize <= 0 || c.NumHiddenLayers <= 0 || c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("text encoder config: vocab_size %d, hidden_size %d, intermediate_size %d, num_hidden_layers %d and max_position_embeddings %d must be positive",
			c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.MaxPositionEmbeddings)
	case c.NumAttentionHeads <= 0 || c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("text encoder config: hidden_size %d does not split into %d attention heads", c.HiddenSize, c.NumAttentionHeads)
	case c.HiddenAct != nn.ActQuickGELU && c.HiddenAct != nn.ActGELU:
		return fmt.Errorf("text encoder config: hidden_act %q is not supported (quick_gelu, gelu)", c.HiddenAct)
	case c.AttentionDropout != 0:
		return fmt.Errorf("text encoder config: attention_dropout %g is not supported (only 0)", c.AttentionDropout)
	case !(c.LayerNormEps > 0):
		return fmt.Errorf("text encoder config: layer_norm_eps %g must be positive", c.LayerNormEps)
	}
	for _, id := range []int{c.PadTokenID, c.BosTokenID, c.EosTokenID} {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("text encoder config: token id %d is outside the vocabulary of %d", id, c.VocabSize)
		}
	}
	return nil
}

// metaKeys are keys transformers writes that describe the file, not the
// model.
var metaKeys = map[string]bool{"transformers_version": true, "torch_dtype": true}

// ParseConfig parses a transformers config.json of a CLIPTextModel. Keys
// missing from data take transformers' defaults; keys starting with "_"
// and the file's metadata (transformers_version, torch_dtype) are ignored;
// any other unknown key is an error naming it. The result is validated.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("text encoder config is not a JSON object: %w", err)
	}
	known := map[string]bool{}
	b, _ := json.Marshal(Config{})
	var fields map[string]json.RawMessage
	json.Unmarshal(b, &fields)
	for k := range fields {
		known[k] = true
	}
	var unknown []string
	for k := range raw {
		if !known[k] && !metaKeys[k] && !strings.HasPrefix(k, "_") {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Config{}, fmt.Errorf("unknown text encoder config key %q", unknown[0])
	}
	c := DefaultConfig()
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&c); err != nil {
		return Config{}, fmt.Errorf("text encoder config: %w", err)
	}
	if mt := c.ModelType; mt != "clip_text_model" {
		return Config{}, fmt.Errorf("text encoder config: model_type %q is not clip_text_model", mt)
	}
	return c, c.Validate()
}

// LoadConfig reads and parses a config.json file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// headDim returns the width of an attention head.
func (c Config) headDim() int { return c.HiddenSize / c.NumAttentionHeads }

// ToyConfig returns the text encoder the toolkit trains with a U-Net on a
// closed vocabulary of vocab ids (the tokenizer's Size): CLIP's text
// architecture at width hidden_size, two layers of four heads, an MLP of
// four times the width with quick GELU, positions for tokens tokens, and
// the tokenizer's special ids (start 0, end 1, pad 2).
func ToyConfig(vocab, width, tokens int) Config {
	c := DefaultConfig()
	c.VocabSize, c.HiddenSize, c.IntermediateSize, c.ProjectionDim = vocab, width, 4*width, width
	c.NumHiddenLayers, c.NumAttentionHeads, c.MaxPositionEmbeddings = 2, 4, tokens
	c.BosTokenID, c.EosTokenID, c.PadTokenID = 0, 1, 2
	return c
}
