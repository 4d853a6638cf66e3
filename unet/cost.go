package unet

import (
	"fmt"
	"strings"

	"github.com/clockwork-go/clockwork/nn"
)

// ModuleCost is the analytic cost of one leaf module of a forward pass of
// one sample.
type ModuleCost struct {
	Name  string // diffusers module name ("down_blocks.1.resnets.0.conv1")
	Kind  string // conv, linear, attention (the two products and softmax), norm, act, add
	MACs  int64  // multiply-accumulates
	FLOPs int64  // floating-point operations
}

// FLOP conventions (one source of truth for every count in the toolkit):
// a multiply-accumulate is 2 FLOPs and bias additions are not counted (as in
// most papers' GFLOPs); GroupNorm costs 8 FLOPs per element (mean, variance,
// normalisation and affine map), SiLU 4, softmax 5, an elementwise addition 1.
const (
	flopsPerMAC   = 2
	flopsNorm     = 8
	flopsSiLU     = 4
	flopsSoftmax  = 5
	flopsAddition = 1
)

// Cost lists the leaf modules of a forward pass in execution order.
type Cost []ModuleCost

// Total returns the sums over all modules.
func (c Cost) Total() (macs, flops int64) { return c.Sum(func(string) bool { return true }) }

// Sum returns the sums over the modules whose name satisfies keep.
func (c Cost) Sum(keep func(name string) bool) (macs, flops int64) {
	for _, m := range c {
		if keep(m.Name) {
			macs += m.MACs
			flops += m.FLOPs
		}
	}
	return
}

// Prefix returns the sums over the modules whose name starts with p.
func (c Cost) Prefix(p string) (macs, flops int64) {
	return c.Sum(func(n string) bool { return n == p || strings.HasPrefix(n, p+".") })
}

// ShellCore splits the total into the high-resolution shell and the
// low-resolution core of the default cut (depth 1: the embedding, conv_in,
// down_blocks[0], up_blocks[-1] and the head in the shell), in FLOPs. A
// model without a core at depth 1 has it all in the shell. See Split.Cost for
// other depths.
func (m *Model) ShellCore(c Cost) (shell, core int64) {
	sp, err := m.SplitAt(1)
	if err != nil {
		_, total := c.Total()
		return total, 0
	}
	return sp.Cost(c)
}

// Cost returns the analytic cost of the forward pass of one sample of h×w,
// module by module, from the configuration alone.
func (m *Model) Cost(h, w int) Cost {
	var c Cost
	add := func(name, kind string, macs, flops int64) {
		c = append(c, ModuleCost{Name: name, Kind: kind, MACs: macs, FLOPs: flops})
	}
	conv := func(name string, cin, cout, k, ho, wo int) {
		macs := int64(ho) * int64(wo) * int64(cout) * int64(cin) * int64(k*k)
		add(name, "conv", macs, flopsPerMAC*macs)
	}
	linear := func(name string, rows, in, out int) {
		macs := int64(rows) * int64(in) * int64(out)
		add(name, "linear", macs, flopsPerMAC*macs)
	}
	norm := func(name string, elems int, silu bool) {
		f := int64(flopsNorm)
		if silu {
			f += flopsSiLU
		}
		add(name, "norm", 0, f*int64(elems))
	}
	cfg := m.Config
	c0, temb := cfg.BlockOutChannels[0], cfg.TimeEmbedDim()
	linear("time_embedding.linear_1", 1, c0, temb)
	add("time_embedding.act", "act", 0, flopsSiLU*int64(temb))
	linear("time_embedding.linear_2", 1, temb, temb)
	if cfg.NumClasses() > 0 {
		add("class_embedding", "add", 0, flopsAddition*int64(temb)) // a lookup, then the sum
	}
	conv("conv_in", cfg.InChannels, c0, 3, h, w)
	resnet := func(prefix string, r nn.ResBlock, hh, ww int) {
		hw := hh * ww
		norm(prefix+".norm1", r.In*hw, true)
		conv(prefix+".conv1", r.In, r.Out, 3, hh, ww)
		add(prefix+".time_act", "act", 0, flopsSiLU*int64(r.Temb))
		linear(prefix+".time_emb_proj", 1, r.Temb, r.Out)
		add(prefix+".time_add", "add", 0, flopsAddition*int64(r.Out*hw))
		norm(prefix+".norm2", r.Out*hw, true)
		conv(prefix+".conv2", r.Out, r.Out, 3, hh, ww)
		if r.In != r.Out {
			conv(prefix+".conv_shortcut", r.In, r.Out, 1, hh, ww)
		}
		add(prefix+".residual", "add", 0, flopsAddition*int64(r.Out*hw))
	}
	attention := func(prefix string, a nn.SpatialAttention, hh, ww int) {
		l := hh * ww
		inner := a.Heads * a.HeadDim
		if a.Groups > 0 {
			norm(prefix+".group_norm", a.Channels*l, false)
		}
		linear(prefix+".to_q", l, a.Channels, inner)
		linear(prefix+".to_k", l, a.Channels, inner)
		linear(prefix+".to_v", l, a.Channels, inner)
		macs := 2 * int64(a.Heads) * int64(l) * int64(l) * int64(a.HeadDim) // Q·Kᵀ and P·V
		add(prefix+".attention", "attention", macs, flopsPerMAC*macs+flopsSoftmax*int64(a.Heads)*int64(l)*int64(l))
		linear(prefix+".to_out.0", l, inner, a.Channels)
		add(prefix+".residual", "add", 0, flopsAddition*int64(a.Channels*l))
	}
	// layers adds a block's resnets, each followed by its attention if any.
	layers := func(b blockPlan, hh, ww int) {
		for j, r := range b.resnets {
			resnet(fmt.Sprintf("%s.resnets.%d", b.prefix, j), r, hh, ww)
			if len(b.attns) > 0 {
				attention(fmt.Sprintf("%s.attentions.%d", b.prefix, j), b.attns[j], hh, ww)
			}
		}
	}
	hh, ww := h, w
	for _, b := range m.plan.down {
		layers(b, hh, ww)
		if b.resample {
			ho, wo := (hh+1)/2, (ww+1)/2
			conv(b.prefix+".downsamplers.0.conv", b.out, b.out, 3, ho, wo)
			hh, ww = ho, wo
		}
	}
	if mp := m.plan.mid; mp != nil {
		resnet("mid_block.resnets.0", mp.resnets[0], hh, ww)
		if mp.attn != nil {
			attention("mid_block.attentions.0", *mp.attn, hh, ww)
		}
		resnet("mid_block.resnets.1", mp.resnets[1], hh, ww)
	}
	for _, b := range m.plan.up {
		layers(b, hh, ww)
		if b.resample {
			hh, ww = 2*hh, 2*ww
			conv(b.prefix+".upsamplers.0.conv", b.out, b.out, 3, hh, ww)
		}
	}
	norm("conv_norm_out", c0*hh*ww, true)
	conv("conv_out", c0, cfg.OutChannels, 3, hh, ww)
	return c
}

// SamplingFLOPs returns the FLOPs of a sampling run of steps model
// evaluations of one h×w sample, of which approx run the high-resolution
// shell plus a substitute costing subFLOPs instead of the whole U-Net (the
// Clockwork case; approx = 0 for a plain run). Guidance doubles every pass:
// multiply by 2 for it.
func (m *Model) SamplingFLOPs(h, w, steps, approx int, subFLOPs int64) int64 {
	c := m.Cost(h, w)
	shell, core := m.ShellCore(c)
	full := int64(steps-approx) * (shell + core)
	return full + int64(approx)*(shell+subFLOPs)
}
