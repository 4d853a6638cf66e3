package unet

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/clockwork-go/clockwork/nn"
)

// WidenInput returns a copy of m that takes in input channels instead of
// m.Config.InChannels (in must be more): every weight is m's, and conv_in's
// kernels for the added channels are zero, so the new model computes what m
// computes whatever the added channels hold. This is how InstructPix2Pix
// (Brooks et al., CVPR 2023, Sec. 3.3) starts an editor from a
// text-to-image model, the source image concatenated to the noisy input,
// and how diffusers' training script does it.
func (m *Model) WidenInput(in int) (*Model, error) {
	old := m.Config.InChannels
	if in <= old {
		return nil, fmt.Errorf("unet: widen the input from %d to %d channels: want more", old, in)
	}
	cfg := m.Config
	cfg.InChannels = in
	w, err := New(cfg, 0)
	if err != nil {
		return nil, err
	}
	for _, name := range w.Params.Names() {
		dst, src := w.Params.Data(name), m.Params.Data(name)
		if name != "conv_in.weight" {
			if len(dst) != len(src) {
				return nil, fmt.Errorf("unet: widen: parameter %s has %d values, want %d", name, len(src), len(dst))
			}
			copy(dst, src)
			continue
		}
		// (out, in, k, k): each output channel's kernels for the old
		// inputs, then zeros.
		s := w.Params.Get(name).Shape()
		k := s[2] * s[3]
		clear(dst)
		for o := 0; o < s[0]; o++ {
			copy(dst[(o*in)*k:(o*in+old)*k], src[(o*old)*k:(o+1)*old*k])
		}
	}
	return w, nil
}

// AddClassProjection returns a copy of m with a "projection" class
// embedding of a dim-wide class_labels vector: class_embedding.linear_1
// drawn from seed as a new model's, class_embedding.linear_2 zero, so the
// new model computes what m computes whatever the vector holds; every
// other weight is m's. A guidance-distilled student starts so from its
// teacher (MoViE, arXiv 2412.06578, Sec. 3.2: the guidance scales'
// embeddings added like the timestep's, zero-initialised). m must have no
// class embedding.
func (m *Model) AddClassProjection(dim int, seed uint64) (*Model, error) {
	if m.Config.NumClasses() > 0 || m.Config.ClassEmbedType != nil {
		return nil, fmt.Errorf("unet: the model has a class embedding already")
	}
	if !m.Config.Conditional() {
		return nil, fmt.Errorf("unet: a projection class embedding needs a %s", ClassUNet2DCondition)
	}
	if dim <= 0 {
		return nil, fmt.Errorf("unet: projection class embedding of width %d", dim)
	}
	cfg := m.Config
	typ := ClassEmbedProjection
	cfg.ClassEmbedType, cfg.ProjectionClassEmbeddingsInputDim = &typ, &dim
	w, err := New(cfg, seed)
	if err != nil {
		return nil, err
	}
	for _, name := range w.Params.Names() {
		dst := w.Params.Data(name)
		switch name {
		case "class_embedding.linear_1.weight", "class_embedding.linear_1.bias":
			continue
		case "class_embedding.linear_2.weight", "class_embedding.linear_2.bias":
			clear(dst)
			continue
		}
		src := m.Params.Data(name)
		if len(dst) != len(src) {
			return nil, fmt.Errorf("unet: add class projection: parameter %s has %d values, want %d", name, len(src), len(dst))
		}
		copy(dst, src)
	}
	return w, nil
}

// WithAnchors returns a model sharing m's weights whose cross-attention
// blocks' self-attention is FAIRY's anchor-based cross-frame attention
// over s (nn.KVStore; Wu et al., CVPR 2024): recording the anchors' keys
// and values, or attending to them beside each frame's own, as s's mode
// says when the model first runs a shape (change the mode on another
// model from WithAnchors). A UNet2DModel's spatial attention is left as it
// is.
func (m *Model) WithAnchors(s *nn.KVStore) *Model {
	p := *m.plan
	with := func(attns []attnBlock) []attnBlock {
		out := make([]attnBlock, len(attns))
		for i, a := range attns {
			if c, ok := a.(crossAttn); ok {
				c.Anchors = s
				a = c
			}
			out[i] = a
		}
		return out
	}
	cp := func(bs []blockPlan) []blockPlan {
		out := make([]blockPlan, len(bs))
		for i, b := range bs {
			b.attns = with(b.attns)
			out[i] = b
		}
		return out
	}
	p.down, p.up = cp(m.plan.down), cp(m.plan.up)
	if m.plan.mid != nil {
		mid := *m.plan.mid
		if mid.attn != nil {
			mid.attn = with([]attnBlock{mid.attn})[0]
		}
		p.mid = &mid
	}
	return &Model{Config: m.Config, Params: m.Params, plan: &p}
}

// Deepen returns a copy of m with one more ResNet block (and, in a block
// with attention, one more attention) in every down and up block
// (layers_per_block one higher) that computes what m computes. Each added
// ResNet has its last convolution at zero, so it passes its input on (an
// up block's, which also reads a skip, has its 1×1 shortcut pass the
// block's own channels and drop the skip's); each added attention has its
// output projection at zero (proj_out; to_out.0 in a UNet2DModel's
// spatial attention); every other new weight is drawn from seed as a new
// model's. A down block's added layers come last, so the skip they add
// repeats the one before it; an up block's come second, where that
// repeated skip is read, and its later layers move one place on. This is
// Net2Net's deeper network (Chen et al., ICLR 2016): a larger model that
// starts training from a trained smaller one.
func (m *Model) Deepen(seed uint64) (*Model, error) {
	cfg := m.Config
	l := cfg.LayersPerBlock
	if l < 1 {
		return nil, fmt.Errorf("unet: deepen: layers_per_block %d", l)
	}
	cfg.LayersPerBlock = l + 1
	w, err := New(cfg, seed)
	if err != nil {
		return nil, fmt.Errorf("unet: deepen: %w", err)
	}
	// source maps a parameter of w to m's of the same role (kept true),
	// or, for an added layer's, to its name within the layer (kept false:
	// drawn from seed, or set below).
	source := func(name string) (string, bool) {
		f := strings.SplitN(name, ".", 5)
		if len(f) < 5 || (f[0] != "down_blocks" && f[0] != "up_blocks") || (f[2] != "resnets" && f[2] != "attentions") {
			return name, true
		}
		j, err := strconv.Atoi(f[3])
		if err != nil {
			return name, true
		}
		switch {
		case f[0] == "down_blocks" && j == l, f[0] == "up_blocks" && j == 1:
			return f[4], false
		case f[0] == "up_blocks" && j > 1:
			return fmt.Sprintf("%s.%s.%s.%d.%s", f[0], f[1], f[2], j-1, f[4]), true
		}
		return name, true
	}
	for _, name := range w.Params.Names() {
		dst := w.Params.Data(name)
		from, kept := source(name)
		if kept {
			src := m.Params.Get(from)
			if src == nil || src.Shape().TotalSize() != len(dst) {
				return nil, fmt.Errorf("unet: deepen: parameter %s (from %s) does not match", name, from)
			}
			copy(dst, src.Float32s())
			continue
		}
		switch from {
		case "conv2.weight", "conv2.bias", "conv_shortcut.bias",
			"proj_out.weight", "proj_out.bias", // a transformer's output projection
			"to_out.0.weight", "to_out.0.bias": // a UNet2DModel's spatial attention's
			clear(dst)
		case "conv_shortcut.weight":
			// (out, in, 1, 1): out = the first out input channels.
			s := w.Params.Get(name).Shape()
			clear(dst)
			for o := 0; o < s[0]; o++ {
				dst[o*s[1]+o] = 1
			}
		}
	}
	return w, nil
}
