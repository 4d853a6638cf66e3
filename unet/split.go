package unet

import (
	"fmt"
	"strings"

	"gorgonia.org/tensor"
)

// Split is a cut of the U-Net into a high-resolution shell and a
// low-resolution core, after Clockwork Diffusion (Habibian et al., CVPR
// 2024, Sec. 4.2). At depth d the shell keeps conv_in, down_blocks[:d],
// up_blocks[n−d:] and the output head (the embedding runs with it); the core
// is everything in between: down_blocks[d:], the mid block and
// up_blocks[:n−d]. The core's input r_in is the output of down_blocks[d−1]
// (tap RInTap) and its output r_out the output of up_blocks[n−d−1] (tap
// ROutTap), which the shell's first up block consumes.
//
// Depth 1 is the paper's default cut (the shell keeps the first down and the
// last up block); depth 2 cuts one level lower, as in the paper's cut-level
// ablation. A U-Net of n down blocks has cuts at depths 1 to n−1.
type Split struct {
	m     *Model
	Depth int
}

// SplitAt returns the cut at depth d, or an error naming the depths the
// model's configuration has.
func (m *Model) SplitAt(d int) (Split, error) {
	n := len(m.plan.down)
	if n < 2 {
		return Split{}, fmt.Errorf("a U-Net with %d down block has no low-resolution core to cut off", n)
	}
	if d < 1 || d > n-1 {
		return Split{}, fmt.Errorf("cut depth %d: a U-Net with %d down blocks has a low-resolution core at depths 1 to %d only", d, n, n-1)
	}
	return Split{m: m, Depth: d}, nil
}

// RInTap returns the name of the tap whose feature is r_in.
func (sp Split) RInTap() string { return sp.m.plan.down[sp.Depth-1].prefix }

// ROutTap returns the name of the tap whose feature is r_out.
func (sp Split) ROutTap() string { return sp.m.plan.up[len(sp.m.plan.up)-1-sp.Depth].prefix }

// RInShape returns the shape of r_in for a batch of n samples of h×w.
func (sp Split) RInShape(n, h, w int) tensor.Shape {
	f := 1 << sp.Depth
	return tensor.Shape{n, sp.m.plan.down[sp.Depth-1].out, (h + f - 1) / f, (w + f - 1) / f}
}

// ROutShape returns the shape of r_out for a batch of n samples of h×w.
func (sp Split) ROutShape(n, h, w int) tensor.Shape {
	f := 1 << (sp.Depth - 1)
	return tensor.Shape{n, sp.m.plan.up[len(sp.m.plan.up)-1-sp.Depth].out, (h + f - 1) / f, (w + f - 1) / f}
}

// InCore reports whether a module (a name of Cost's, in diffusers'
// naming) belongs to the core.
func (sp Split) InCore(name string) bool {
	n := len(sp.m.plan.down)
	if strings.HasPrefix(name, "mid_block.") {
		return true
	}
	for i := sp.Depth; i < n; i++ {
		if strings.HasPrefix(name, fmt.Sprintf("down_blocks.%d.", i)) {
			return true
		}
	}
	for i := 0; i < n-sp.Depth; i++ {
		if strings.HasPrefix(name, fmt.Sprintf("up_blocks.%d.", i)) {
			return true
		}
	}
	return false
}

// Cost splits the FLOPs of a forward pass (a Cost of the model's) into the
// shell's and the core's.
func (sp Split) Cost(c Cost) (shell, core int64) {
	_, core = c.Sum(sp.InCore)
	_, total := c.Total()
	return total - core, core
}

// TapInfo describes a tap for an h×w sample: its feature map's shape
// (C, H, W) and the resolution its module works at (WorkH × WorkW: a down
// block's resnets run before its down-sampler, an up block's before its
// up-sampler, so down_blocks.0 works at full resolution but outputs half
// of it).
type TapInfo struct {
	Name         string
	C, H, W      int
	WorkH, WorkW int
}

// TapInfos returns the taps of Taps with their shapes and working
// resolutions for an h×w sample.
func (m *Model) TapInfos(h, w int) []TapInfo {
	half := func(v int) int { return (v + 1) / 2 }
	c0 := m.Config.BlockOutChannels[0]
	out := []TapInfo{{Name: TapConvIn, C: c0, H: h, W: w, WorkH: h, WorkW: w}}
	hh, ww := h, w
	for _, b := range m.plan.down {
		t := TapInfo{Name: b.prefix, C: b.out, WorkH: hh, WorkW: ww}
		if b.resample {
			hh, ww = half(hh), half(ww)
		}
		t.H, t.W = hh, ww
		out = append(out, t)
	}
	if m.plan.mid != nil {
		out = append(out, TapInfo{Name: TapMid, C: m.plan.mid.resnets[1].Out, H: hh, W: ww, WorkH: hh, WorkW: ww})
	}
	for _, b := range m.plan.up {
		t := TapInfo{Name: b.prefix, C: b.out, WorkH: hh, WorkW: ww}
		if b.resample {
			hh, ww = 2*hh, 2*ww
		}
		t.H, t.W = hh, ww
		out = append(out, t)
	}
	return out
}
