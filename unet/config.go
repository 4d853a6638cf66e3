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

// Config is the configuration of a UNet2DModel or a UNet2DConditionModel
// with diffusers' config.json keys and defaults. Pointer fields are the keys
// diffusers allows to be null. Class says which of the two it describes;
// the keys one class does not have are ignored for it (and refused in its
// config.json).
type Config struct {
	// Class is the model class, diffusers' "_class_name": ClassUNet2D
	// (also when empty) or ClassUNet2DCondition.
	Class string `json:"-"`

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

	// Keys of UNet2DConditionModel only (see condKeys).

	// CrossAttentionDim is the width of the text tokens the
	// cross-attention blocks attend to (encoder_hidden_states).
	CrossAttentionDim int `json:"cross_attention_dim"`
	// TransformerLayersPerBlock is the number of BasicTransformerBlocks in
	// each Transformer2DModel.
	TransformerLayersPerBlock int `json:"transformer_layers_per_block"`
	// UseLinearProjection makes proj_in and proj_out linear layers on
	// tokens instead of 1×1 convolutions.
	UseLinearProjection bool `json:"use_linear_projection"`
	// ProjectionClassEmbeddingsInputDim is the width of the class_labels
	// vector of class_embed_type "projection": a TimestepEmbedding (two
	// linear layers with SiLU between) maps it to the time embedding's
	// width, added to it. A guidance-distilled editor feeds it the
	// sinusoidal embeddings of its guidance scales.
	ProjectionClassEmbeddingsInputDim *int `json:"projection_class_embeddings_input_dim"`
}

// The model classes a Config describes ("_class_name" in config.json).
const (
	ClassUNet2D          = "UNet2DModel"
	ClassUNet2DCondition = "UNet2DConditionModel"
)

// modelOnlyKeys are the keys of UNet2DModel that UNet2DConditionModel does
// not have, and condKeys the typed keys of UNet2DConditionModel only.
var (
	modelOnlyKeys = []string{"downsample_type", "upsample_type", "attn_norm_num_groups", "add_attention", "num_train_timesteps"}
	condKeys      = []string{"cross_attention_dim", "transformer_layers_per_block", "use_linear_projection", "projection_class_embeddings_input_dim"}
)

// condFixed are UNet2DConditionModel keys this package supports with one
// value only (its JSON form); any other value is an error naming the key.
// They select variants of the architecture (Stable Diffusion XL's added
// embeddings, dual cross-attention, GLIGEN, …) outside this package.
var condFixed = map[string]string{
	"only_cross_attention":                 "false",
	"reverse_transformer_layers_per_block": "null",
	"encoder_hid_dim":                      "null",
	"encoder_hid_dim_type":                 "null",
	"num_attention_heads":                  "null",
	"dual_cross_attention":                 "false",
	"addition_embed_type":                  "null",
	"upcast_attention":                     "false",
	"time_embedding_act_fn":                "null",
	"timestep_post_act":                    "null",
	"time_cond_proj_dim":                   "null",
	"conv_in_kernel":                       "3",
	"conv_out_kernel":                      "3",
	"attention_type":                       `"default"`,
	"class_embeddings_concat":              "false",
	"cross_attention_norm":                 "null",
}

// condInert are UNet2DConditionModel keys that reach none of the blocks
// this package supports (they configure ResnetDownsampleBlock2D and the
// Simple* blocks, or added and projected embeddings): any value is
// accepted, and a saved config writes diffusers' defaults.
var condInert = map[string]any{
	"resnet_skip_time_act":           false,
	"resnet_out_scale_factor":        1.0,
	"addition_time_embed_dim":        nil,
	"mid_block_only_cross_attention": nil,
	"addition_embed_type_num_heads":  64,
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

// DefaultConditionConfig returns UNet2DConditionModel's defaults (diffusers
// models/unets/unet_2d_condition.py: Stable Diffusion 1's U-Net).
func DefaultConditionConfig() Config {
	return Config{
		Class:                     ClassUNet2DCondition,
		InChannels:                4,
		OutChannels:               4,
		TimeEmbeddingType:         "positional",
		FlipSinToCos:              true,
		DownBlockTypes:            []string{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"},
		MidBlockType:              ptr("UNetMidBlock2DCrossAttn"),
		UpBlockTypes:              []string{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"},
		BlockOutChannels:          []int{320, 640, 1280, 1280},
		LayersPerBlock:            2,
		MidBlockScaleFactor:       1,
		DownsamplePadding:         1,
		ActFn:                     "silu",
		AttentionHeadDim:          ptr(8),
		NormNumGroups:             ptr(32),
		NormEps:                   1e-5,
		ResnetTimeScaleShift:      "default",
		CrossAttentionDim:         1280,
		TransformerLayersPerBlock: 1,
	}
}

// Conditional reports whether the config is a UNet2DConditionModel's, whose
// cross-attention blocks attend to text.
func (c Config) Conditional() bool { return c.Class == ClassUNet2DCondition }

// className returns Class, with UNet2DModel for an empty one.
func (c Config) className() string {
	if c.Class == "" {
		return ClassUNet2D
	}
	return c.Class
}

// classKeys returns the config.json keys of a class.
func classKeys(class string) map[string]bool {
	m := map[string]bool{}
	for _, f := range jsonFields(Config{}) {
		m[f] = true
	}
	drop := condKeys
	if class == ClassUNet2DCondition {
		drop = modelOnlyKeys
		for k := range condFixed {
			m[k] = true
		}
		for k := range condInert {
			m[k] = true
		}
	}
	for _, k := range drop {
		delete(m, k)
	}
	return m
}

// jsonFields returns the JSON keys of Config's fields, of both classes.
func jsonFields(c Config) []string {
	type plain Config
	b, _ := json.Marshal(plain(c))
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ParseConfig parses a diffusers config.json for UNet2DModel or, when its
// "_class_name" says so, UNet2DConditionModel. Keys missing from data take
// diffusers' defaults for the class; keys starting with "_" (such as
// "_diffusers_version") are metadata; any other key the class does not
// have is an error naming it, as is a value this package does not support.
// The result is validated.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("config is not a JSON object: %w", err)
	}
	c := DefaultConfig()
	if cn, ok := raw["_class_name"]; ok {
		var name string
		if err := json.Unmarshal(cn, &name); err != nil {
			return Config{}, fmt.Errorf("config: _class_name %s is not a string", cn)
		}
		switch name {
		case ClassUNet2D:
		case ClassUNet2DCondition:
			c = DefaultConditionConfig()
		default:
			return Config{}, fmt.Errorf("config is for %q, only %s and %s are supported", name, ClassUNet2D, ClassUNet2DCondition)
		}
	}
	known := classKeys(c.Class)
	var unknown []string
	for k := range raw {
		if !known[k] && !strings.HasPrefix(k, "_") {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Config{}, fmt.Errorf("unknown %s config key %q", c.className(), unknown[0])
	}
	if c.Conditional() {
		keys := make([]string, 0, len(condFixed))
		for k := range condFixed {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v, ok := raw[k]
			if !ok {
				continue
			}
			var got, want any
			if json.Unmarshal(v, &got) != nil || json.Unmarshal([]byte(condFixed[k]), &want) != nil || !sameJSON(got, want) {
				return Config{}, fmt.Errorf("config: %s %s is not supported (only %s)", k, bytes.TrimSpace(v), condFixed[k])
			}
		}
		if v, ok := raw["attention_head_dim"]; ok && bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			return Config{}, fmt.Errorf("config: attention_head_dim %s per block is not supported (only one number of heads for every block)", bytes.TrimSpace(v))
		}
		if v, ok := raw["transformer_layers_per_block"]; ok && bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			return Config{}, fmt.Errorf("config: transformer_layers_per_block %s per block is not supported (only one number for every block)", bytes.TrimSpace(v))
		}
	}
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

// sameJSON compares two decoded JSON values (numbers as float64).
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// MarshalJSON writes the config with every key of its class, plus
// "_class_name", in the form diffusers' from_pretrained reads.
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
	drop := condKeys
	if c.Conditional() {
		drop = modelOnlyKeys
		for k, v := range condFixed {
			var x any
			json.Unmarshal([]byte(v), &x)
			m[k] = x
		}
		for k, v := range condInert {
			m[k] = v
		}
	}
	for _, k := range drop {
		delete(m, k)
	}
	m["_class_name"] = c.className()
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

// ClassEmbedProjection is the class_embed_type whose class_labels are a
// vector projected by a TimestepEmbedding (diffusers' "projection").
const ClassEmbedProjection = "projection"

// ClassProjection returns the width of the class_labels vector of a
// "projection" class embedding, 0 for other models.
func (c Config) ClassProjection() int {
	if c.ClassEmbedType != nil && *c.ClassEmbedType == ClassEmbedProjection && c.ProjectionClassEmbeddingsInputDim != nil {
		return *c.ProjectionClassEmbeddingsInputDim
	}
	return 0
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
	case c.Class != "" && c.Class != ClassUNet2D && c.Class != ClassUNet2DCondition:
		return fmt.Errorf("config: class %q is not supported (only %s and %s)", c.Class, ClassUNet2D, ClassUNet2DCondition)
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
	case c.ClassEmbedType != nil && (*c.ClassEmbedType != ClassEmbedProjection || !c.Conditional()):
		if c.Conditional() {
			return fmt.Errorf("config: class_embed_type %q is not supported (only null, with num_class_embeds, or %q)", *c.ClassEmbedType, ClassEmbedProjection)
		}
		return fmt.Errorf("config: class_embed_type %q is not supported (only null, with num_class_embeds)", *c.ClassEmbedType)
	case c.ClassEmbedType != nil && (c.ProjectionClassEmbeddingsInputDim == nil || *c.ProjectionClassEmbeddingsInputDim <= 0):
		return fmt.Errorf("config: class_embed_type %q needs a positive projection_class_embeddings_input_dim", ClassEmbedProjection)
	case c.ClassEmbedType != nil && c.NumClassEmbeds != nil:
		return fmt.Errorf("config: class_embed_type %q and num_class_embeds %d: give one", ClassEmbedProjection, *c.NumClassEmbeds)
	case c.NumClassEmbeds != nil && *c.NumClassEmbeds <= 0:
		return fmt.Errorf("config: num_class_embeds %d must be positive", *c.NumClassEmbeds)
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
	if err := c.validateBlocks(); err != nil {
		return err
	}
	if _, err := newPlan(c); err != nil {
		return err
	}
	return nil
}

// validateBlocks checks the block types and the keys of the class's
// attention blocks.
func (c Config) validateBlocks() error {
	n := len(c.BlockOutChannels)
	down, up, mid, attnDown, attnUp := "DownBlock2D", "UpBlock2D", "UNetMidBlock2D", "AttnDownBlock2D", "AttnUpBlock2D"
	if c.Conditional() {
		mid, attnDown, attnUp = "UNetMidBlock2DCrossAttn", "CrossAttnDownBlock2D", "CrossAttnUpBlock2D"
		switch {
		case c.NormNumGroups == nil:
			return fmt.Errorf("config: norm_num_groups null is not supported for %s (only a number of groups)", ClassUNet2DCondition)
		case c.AttentionHeadDim == nil || *c.AttentionHeadDim <= 0:
			return fmt.Errorf("config: attention_head_dim (the number of heads of %s) must be a positive number", ClassUNet2DCondition)
		case c.CrossAttentionDim <= 0:
			return fmt.Errorf("config: cross_attention_dim %d must be positive", c.CrossAttentionDim)
		case c.TransformerLayersPerBlock <= 0:
			return fmt.Errorf("config: transformer_layers_per_block %d must be positive", c.TransformerLayersPerBlock)
		}
	}
	if c.MidBlockType != nil && *c.MidBlockType != mid {
		return fmt.Errorf("config: mid_block_type %q is not supported for %s (only %q or null)", *c.MidBlockType, c.className(), mid)
	}
	for i, t := range c.DownBlockTypes {
		switch blockType(t) {
		case down:
		case attnDown:
			if !c.Conditional() && i < n-1 && c.DownsampleType != "conv" {
				return fmt.Errorf("config: downsample_type %q is not supported (only \"conv\")", c.DownsampleType)
			}
		default:
			return fmt.Errorf("config: down block type %q is not supported for %s (%s, %s)", t, c.className(), down, attnDown)
		}
	}
	for i, t := range c.UpBlockTypes {
		switch blockType(t) {
		case up:
		case attnUp:
			if !c.Conditional() && i < n-1 && c.UpsampleType != "conv" {
				return fmt.Errorf("config: upsample_type %q is not supported (only \"conv\")", c.UpsampleType)
			}
		default:
			return fmt.Errorf("config: up block type %q is not supported for %s (%s, %s)", t, c.className(), up, attnUp)
		}
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
