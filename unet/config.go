package unet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clockwork-go/clockwork/configs"
)

// Config is the configuration of a UNet2DModel with diffusers' config.json
// keys and defaults. Pointer fields are the keys diffusers allows to be null.
type Config struct {
	SampleSize           any      `json:"sample_size"`
	InChannels           int      `json:"in_channels"`
	OutChannels          int      `json:"out_channels"`
	CenterInputSample    bool     `json:"center_input_sample"`
	TimeEmbeddingType    string   `json:"time_embedding_type"`
	TimeEmbeddingDim     *int     `json:"time_embedding_dim"`
	FreqShift            float64  `json:"freq_shift"`
	FlipSinToCos         bool     `json:"flip_sin_to_cos"`
	DownBlockTypes       []string `json:"down_block_types"`
	MidBlockType         *string  `json:"mid_block_type"`
	UpBlockTypes         []string `json:"up_block_types"`
	BlockOutChannels     []int    `json:"block_out_channels"`
	LayersPerBlock       int      `json:"layers_per_block"`
	MidBlockScaleFactor  float64  `json:"mid_block_scale_factor"`
	DownsamplePadding    int      `json:"downsample_padding"`
	DownsampleType       string   `json:"downsample_type"`
	UpsampleType         string   `json:"upsample_type"`
	Dropout              float64  `json:"dropout"`
	ActFn                string   `json:"act_fn"`
	AttentionHeadDim     *int     `json:"attention_head_dim"`
	NormNumGroups        *int     `json:"norm_num_groups"`
	AttnNormNumGroups    *int     `json:"attn_norm_num_groups"`
	NormEps              float64  `json:"norm_eps"`
	ResnetTimeScaleShift string   `json:"resnet_time_scale_shift"`
	AddAttention         bool     `json:"add_attention"`
	ClassEmbedType       *string  `json:"class_embed_type"`
	NumClassEmbeds       *int     `json:"num_class_embeds"`
	NumTrainTimesteps    *int     `json:"num_train_timesteps"`
}

func ptr[T any](v T) *T { return &v }

// DefaultConfig returns UNet2DModel's defaults (diffusers
// models/unets/unet_2d.py).
func DefaultConfig() Config {
	return Config{
		InChannels:           3,
		OutChannels:          3,
		TimeEmbeddingType:    "positional",
		FreqShift:            0,
		FlipSinToCos:         true,
		DownBlockTypes:       []string{"DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"},
		MidBlockType:         ptr("UNetMidBlock2D"),
		UpBlockTypes:         []string{"AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"},
		BlockOutChannels:     []int{224, 448, 672, 896},
		LayersPerBlock:       2,
		MidBlockScaleFactor:  1,
		DownsamplePadding:    1,
		DownsampleType:       "conv",
		UpsampleType:         "conv",
		Dropout:              0,
		ActFn:                "silu",
		AttentionHeadDim:     ptr(8),
		NormNumGroups:        ptr(32),
		NormEps:              1e-5,
		ResnetTimeScaleShift: "default",
		AddAttention:         true,
	}
}

// knownKeys are the config.json keys of UNet2DModel.
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range jsonFields(Config{}) {
		m[f] = true
	}
	return m
}()

func jsonFields(c Config) []string {
	b, _ := json.Marshal(c)
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ParseConfig parses a diffusers config.json for UNet2DModel. Keys missing
// from data take diffusers' defaults; keys starting with "_" (such as
// "_class_name" and "_diffusers_version") are metadata; any other unknown
// key is an error naming it. The result is validated.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("config is not a JSON object: %w", err)
	}
	if cn, ok := raw["_class_name"]; ok {
		var name string
		if json.Unmarshal(cn, &name) == nil && name != "UNet2DModel" {
			return Config{}, fmt.Errorf("config is for %q, only UNet2DModel is supported", name)
		}
	}
	var unknown []string
	for k := range raw {
		if !knownKeys[k] && !strings.HasPrefix(k, "_") {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Config{}, fmt.Errorf("unknown config key %q", unknown[0])
	}
	c := DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
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

// MarshalJSON writes the config with every key, plus "_class_name", in the
// form diffusers' from_pretrained reads.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	b, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["_class_name"] = "UNet2DModel"
	return json.MarshalIndent(m, "", "  ")
}

// TimeEmbedDim returns the width of the timestep embedding.
func (c Config) TimeEmbedDim() int {
	if c.TimeEmbeddingDim != nil {
		return *c.TimeEmbeddingDim
	}
	return c.BlockOutChannels[0] * 4
}

// groups returns norm_num_groups (diffusers' fallback when it is null is
// min(C0/4, 32), used for the output norm only; blocks then use 32).
func (c Config) groups() int {
	if c.NormNumGroups != nil {
		return *c.NormNumGroups
	}
	return 32
}

func (c Config) groupsOut() int {
	if c.NormNumGroups != nil {
		return *c.NormNumGroups
	}
	return min(c.BlockOutChannels[0]/4, 32)
}

// headDim returns the attention head width for a block of c channels.
func (c Config) headDim(ch int) int {
	if c.AttentionHeadDim != nil {
		return *c.AttentionHeadDim
	}
	return ch
}

// NumClasses returns num_class_embeds, or 0 for an unconditional model.
func (c Config) NumClasses() int {
	if c.NumClassEmbeds != nil {
		return *c.NumClassEmbeds
	}
	return 0
}

// blockType strips diffusers' "UNetRes" alias prefix.
func blockType(t string) string { return strings.TrimPrefix(t, "UNetRes") }

// SampleHW returns the height and width of the images the model is made
// for: sample_size as one number (square images) or [height, width], as in
// diffusers; a config without it (null) gets 32×32.
func (c Config) SampleHW() (h, w int, err error) {
	bad := fmt.Errorf("config: sample_size %v is not a positive integer or [height, width]", c.SampleSize)
	whole := func(v any) (int, bool) {
		f, ok := v.(float64)
		if !ok || f <= 0 || f != math.Trunc(f) || f > 1<<16 {
			return 0, false
		}
		return int(f), true
	}
	switch s := c.SampleSize.(type) {
	case nil:
		return 32, 32, nil
	case []any:
		if len(s) != 2 {
			return 0, 0, bad
		}
		h, ok1 := whole(s[0])
		w, ok2 := whole(s[1])
		if !ok1 || !ok2 {
			return 0, 0, bad
		}
		return h, w, nil
	case int:
		if s > 0 {
			return s, s, nil
		}
		return 0, 0, bad
	default:
		v, ok := whole(s)
		if !ok {
			return 0, 0, bad
		}
		return v, v, nil
	}
}

// Validate checks that the config describes a model this package builds,
// and returns an error naming the first unsupported key or value.
func (c Config) Validate() error {
	n := len(c.BlockOutChannels)
	if _, _, err := c.SampleHW(); err != nil {
		return err
	}
	switch {
	case n == 0:
		return fmt.Errorf("config: block_out_channels is empty")
	case len(c.DownBlockTypes) != n:
		return fmt.Errorf("config: %d down_block_types for %d block_out_channels", len(c.DownBlockTypes), n)
	case len(c.UpBlockTypes) != n:
		return fmt.Errorf("config: %d up_block_types for %d down_block_types", len(c.UpBlockTypes), n)
	case c.InChannels <= 0 || c.OutChannels <= 0:
		return fmt.Errorf("config: in_channels %d and out_channels %d must be positive", c.InChannels, c.OutChannels)
	case c.LayersPerBlock <= 0:
		return fmt.Errorf("config: layers_per_block %d must be positive", c.LayersPerBlock)
	case c.TimeEmbeddingType != "positional":
		return fmt.Errorf("config: time_embedding_type %q is not supported (only \"positional\")", c.TimeEmbeddingType)
	case c.ActFn != "silu" && c.ActFn != "swish":
		return fmt.Errorf("config: act_fn %q is not supported (only \"silu\")", c.ActFn)
	case c.ResnetTimeScaleShift != "default":
		return fmt.Errorf("config: resnet_time_scale_shift %q is not supported (only \"default\")", c.ResnetTimeScaleShift)
	case c.Dropout != 0:
		return fmt.Errorf("config: dropout %g is not supported (only 0)", c.Dropout)
	case c.ClassEmbedType != nil:
		return fmt.Errorf("config: class_embed_type %q is not supported (only null, with num_class_embeds)", *c.ClassEmbedType)
	case c.NumClassEmbeds != nil && *c.NumClassEmbeds <= 0:
		return fmt.Errorf("config: num_class_embeds %d must be positive", *c.NumClassEmbeds)
	case c.MidBlockType != nil && *c.MidBlockType != "UNetMidBlock2D":
		return fmt.Errorf("config: mid_block_type %q is not supported (only \"UNetMidBlock2D\" or null)", *c.MidBlockType)
	case c.NormEps <= 0:
		return fmt.Errorf("config: norm_eps %g must be positive", c.NormEps)
	case c.MidBlockScaleFactor == 0:
		return fmt.Errorf("config: mid_block_scale_factor must not be 0")
	case c.DownsamplePadding < 0 || c.DownsamplePadding > 1:
		return fmt.Errorf("config: downsample_padding %d is not supported (0 or 1)", c.DownsamplePadding)
	case c.TimeEmbedDim() <= 0:
		return fmt.Errorf("config: time_embedding_dim %d must be positive", c.TimeEmbedDim())
	case c.AttentionHeadDim != nil && *c.AttentionHeadDim <= 0:
		return fmt.Errorf("config: attention_head_dim %d must be positive", *c.AttentionHeadDim)
	}
	for i, ch := range c.BlockOutChannels {
		if ch <= 0 {
			return fmt.Errorf("config: block_out_channels[%d] = %d must be positive", i, ch)
		}
	}
	for i, t := range c.DownBlockTypes {
		switch blockType(t) {
		case "DownBlock2D":
		case "AttnDownBlock2D":
			if i < n-1 && c.DownsampleType != "conv" {
				return fmt.Errorf("config: downsample_type %q is not supported (only \"conv\")", c.DownsampleType)
			}
		default:
			return fmt.Errorf("config: down block type %q is not supported (DownBlock2D, AttnDownBlock2D)", t)
		}
	}
	for i, t := range c.UpBlockTypes {
		switch blockType(t) {
		case "UpBlock2D":
		case "AttnUpBlock2D":
			if i < n-1 && c.UpsampleType != "conv" {
				return fmt.Errorf("config: upsample_type %q is not supported (only \"conv\")", c.UpsampleType)
			}
		default:
			return fmt.Errorf("config: up block type %q is not supported (UpBlock2D, AttnUpBlock2D)", t)
		}
	}
	if _, err := newPlan(c); err != nil {
		return err
	}
	return nil
}

// ConfigFrom reads a config from a config.json path or a model directory, or
// else takes the embedded reference config of that name (package configs:
// "mnist", "mnist_attn32").
func ConfigFrom(nameOrPath string) (Config, error) {
	if st, err := os.Stat(nameOrPath); err == nil {
		if st.IsDir() {
			nameOrPath = filepath.Join(nameOrPath, ConfigFile)
		}
		return LoadConfig(nameOrPath)
	}
	b, err := configs.Get(nameOrPath)
	if err != nil {
		return Config{}, fmt.Errorf("config %q is neither a file nor an embedded config: %w", nameOrPath, err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("embedded config %q: %w", nameOrPath, err)
	}
	return c, nil
}
