package segment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Variants of the network.
const (
	// UNet is Ronneberger et al.'s network: two 3×3 convolutions with
	// ReLU per level, 2×2 max-pooling down, 2×2 up-convolutions up, the
	// encoder's features (centre-cropped under valid padding)
	// concatenated to the decoder's.
	UNet = "unet"
	// Attention adds Oktay et al.'s additive attention gates ("Attention
	// U-Net: Learning Where to Look for the Pancreas", MIDL 2018) on the
	// skip connections: the skip features are multiplied by
	// α = σ(ψ(ReLU(W_x·x + W_g·g))), g the up-convolved decoder features
	// at the skip's resolution (a common simplification of the paper's
	// gating from the coarser level), W_x, W_g and ψ 1×1 convolutions.
	Attention = "attention"
	// Residual makes every level's two convolutions a residual unit
	// (Zhang, Liu and Wang, "Road Extraction by Deep Residual U-Net",
	// 2018; He et al. 2016): ReLU(conv(ReLU(conv(x))) + shortcut(x)),
	// the shortcut a 1×1 convolution where the width changes, and
	// centre-cropped under valid padding.
	Residual = "residual"
)

// Config describes a segmentation U-Net. Its JSON form is the model
// directory's config.json.
type Config struct {
	// InChannels is the image's channels (1 for digits).
	InChannels int `json:"in_channels"`
	// Classes is the number of output classes (background included).
	Classes int `json:"classes"`
	// Depth is the number of 2×2 poolings (the paper's network has 4).
	Depth int `json:"depth"`
	// Width is the first level's channels, doubled at every level (the
	// paper's is 64).
	Width int `json:"base_width"`
	// Padding is "valid" (the paper's: every 3×3 convolution shrinks the
	// map by two pixels, the output is the input's centre, and large
	// images are predicted by overlap-tiling) or "same".
	Padding string `json:"padding"`
	// BatchNorm puts batch normalisation after every 3×3 convolution.
	BatchNorm bool `json:"batch_norm"`
	// Variant is UNet, Attention or Residual.
	Variant string `json:"variant"`
}

// DefaultConfig is the toolkit's digit-scene network: three levels of
// 16, 32 and 64 channels over a 128-channel bottom, valid padding, batch
// normalisation, the plain U-Net.
func DefaultConfig() Config {
	return Config{InChannels: 1, Classes: 11, Depth: 3, Width: 16, Padding: "valid", BatchNorm: true, Variant: UNet}
}

// Validate reports a configuration that cannot be built.
func (c Config) Validate() error {
	switch {
	case c.InChannels < 1 || c.InChannels > 64:
		return fmt.Errorf("segment config: in_channels %d must lie in [1, 64]", c.InChannels)
	case c.Classes < 2 || c.Classes > 255:
		return fmt.Errorf("segment config: classes %d must lie in [2, 255]", c.Classes)
	case c.Depth < 1 || c.Depth > 6:
		return fmt.Errorf("segment config: depth %d must lie in [1, 6]", c.Depth)
	case c.Width < 1 || c.Width<<c.Depth > 4096:
		return fmt.Errorf("segment config: base_width %d at depth %d must be positive with at most 4096 channels at the bottom", c.Width, c.Depth)
	case c.Padding != "valid" && c.Padding != "same":
		return fmt.Errorf("segment config: padding %q is not valid or same", c.Padding)
	case c.Variant != UNet && c.Variant != Attention && c.Variant != Residual:
		return fmt.Errorf("segment config: variant %q is not %s, %s or %s", c.Variant, UNet, Attention, Residual)
	}
	return nil
}

// Valid reports whether c.Padding is "valid".
func (c Config) Valid() bool { return c.Padding == "valid" }

// Border returns the pixels valid padding removes on each side: an input
// of side s gives an output of side s − 2·Border (0 under same padding).
func (c Config) Border() int {
	if !c.Valid() {
		return 0
	}
	// Two 3×3 convolutions lose 4 pixels at each level, on the way down
	// at the level's scale and on the way up likewise; the bottom's two
	// lose 4 at its scale.
	total := 0
	for l := 0; l < c.Depth; l++ {
		total += 2 * 4 << l
	}
	total += 4 << c.Depth
	return total / 2
}

// OutputSize returns the output side for an input side, or an error
// naming the sizes that work: under valid padding every map entering a
// pooling must have an even side and every map must keep a positive
// side; under same padding the input side must be a multiple of 2^Depth.
func (c Config) OutputSize(in int) (int, error) {
	if out, ok := c.fits(in); ok {
		return out, nil
	}
	lo, next := c.MinInput(), c.NextInput(in)
	if c.Valid() {
		return 0, fmt.Errorf("segment: an input of %d pixels does not fit depth %d under valid padding: the smallest size that works is %d, the next at least %d is %d", in, c.Depth, lo, in, next)
	}
	return 0, fmt.Errorf("segment: an input of %d pixels does not fit depth %d under same padding: sizes must be multiples of %d (the next is %d)", in, c.Depth, 1<<c.Depth, next)
}

// fits returns the output side of an input side and whether it fits.
func (c Config) fits(in int) (int, bool) {
	if in < 1 {
		return 0, false
	}
	if !c.Valid() {
		return in, in%(1<<c.Depth) == 0
	}
	s := in
	for l := 0; l < c.Depth; l++ {
		s -= 4
		if s < 2 || s%2 != 0 {
			return 0, false
		}
		s /= 2
	}
	s -= 4
	if s < 1 {
		return 0, false
	}
	for l := 0; l < c.Depth; l++ {
		s = 2*s - 4
		if s < 1 {
			return 0, false
		}
	}
	return s, true
}

// MinInput returns the smallest input side that fits.
func (c Config) MinInput() int { return c.NextInput(1) }

// NextInput returns the smallest input side of at least in that fits.
func (c Config) NextInput(in int) int {
	for s := max(in, 1); ; s++ {
		if _, ok := c.fits(s); ok {
			return s
		}
	}
}

// InputFor returns the smallest input side whose output covers out
// pixels.
func (c Config) InputFor(out int) int {
	for s := c.NextInput(out); ; s = c.NextInput(s + 1) {
		if o, _ := c.fits(s); o >= out {
			return s
		}
	}
}

// TileContext returns the context, in pixels on each side, that an input
// tile carries around its output tile in the overlap-tile strategy: what
// valid padding consumes (Border), and under same padding 2^Depth·2, so
// that the zero padding at a tile's edge stays away from the pixels kept.
func (c Config) TileContext() int {
	if c.Valid() {
		return c.Border()
	}
	return 2 << c.Depth
}

// TileOutput returns the output tile of an input tile side in (the
// network's input, as the paper's 572 whose output is 388), or an error
// naming the sizes that work.
func (c Config) TileOutput(in int) (int, error) {
	if c.Valid() {
		return c.OutputSize(in)
	}
	if _, err := c.OutputSize(in); err != nil {
		return 0, err
	}
	lo := c.NextInput(2*c.TileContext() + 1)
	if in < lo {
		return 0, fmt.Errorf("segment: an input tile of %d pixels leaves no output inside its context of %d pixels a side under same padding: the smallest tile that works is %d", in, c.TileContext(), lo)
	}
	return in - 2*c.TileContext(), nil
}

// ReadConfig reads a config.json, refusing unknown keys.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var c Config
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
