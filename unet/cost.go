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

// CostBuilder lists the cost of modules in the conventions above; Model.Cost
// and the Clockwork adaptors (package distill) both count with it.
type CostBuilder struct {
	Cost Cost
}

// Add appends a module of the given kind.
func (b *CostBuilder) Add(name, kind string, macs, flops int64) {
	b.Cost = append(b.Cost, ModuleCost{Name: name, Kind: kind, MACs: macs, FLOPs: flops})
}

// Conv appends a k×k convolution from cin to cout channels with an
// ho×wo output.
func (b *CostBuilder) Conv(name string, cin, cout, k, ho, wo int) {
	macs := int64(ho) * int64(wo) * int64(cout) * int64(cin) * int64(k*k)
	b.Add(name, "conv", macs, flopsPerMAC*macs)
}

// Linear appends a linear layer applied to rows rows.
func (b *CostBuilder) Linear(name string, rows, in, out int) {
	macs := int64(rows) * int64(in) * int64(out)
	b.Add(name, "linear", macs, flopsPerMAC*macs)
}

// Norm appends a GroupNorm over elems values, fused with SiLU when silu.
func (b *CostBuilder) Norm(name string, elems int, silu bool) {
	f := int64(flopsNorm)
	if silu {
		f += flopsSiLU
	}
	b.Add(name, "norm", 0, f*int64(elems))
}

// Act appends a SiLU over elems values.
func (b *CostBuilder) Act(name string, elems int) { b.Add(name, "act", 0, flopsSiLU*int64(elems)) }

// Sum appends an elementwise addition (or scaling) over elems values.
func (b *CostBuilder) Sum(name string, elems int) { b.Add(name, "add", 0, flopsAddition*int64(elems)) }

// ResBlock appends a ResBlock working at hh×ww.
func (b *CostBuilder) ResBlock(prefix string, r nn.ResBlock, hh, ww int) {
	hw := hh * ww
	b.Norm(prefix+".norm1", r.In*hw, true)
	b.Conv(prefix+".conv1", r.In, r.Out, 3, hh, ww)
	b.Act(prefix+".time_act", r.Temb)
	b.Linear(prefix+".time_emb_proj", 1, r.Temb, r.Out)
	b.Sum(prefix+".time_add", r.Out*hw)
	b.Norm(prefix+".norm2", r.Out*hw, true)
	b.Conv(prefix+".conv2", r.Out, r.Out, 3, hh, ww)
	if r.In != r.Out {
		b.Conv(prefix+".conv_shortcut", r.In, r.Out, 1, hh, ww)
	}
	b.Sum(prefix+".residual", r.Out*hw)
}

// Attention appends a spatial attention block at hh×ww.
func (b *CostBuilder) Attention(prefix string, a nn.SpatialAttention, hh, ww int) {
	l := hh * ww
	inner := a.Heads * a.HeadDim
	if a.Groups > 0 {
		b.Norm(prefix+".group_norm", a.Channels*l, false)
	}
	b.Linear(prefix+".to_q", l, a.Channels, inner)
	b.Linear(prefix+".to_k", l, a.Channels, inner)
	b.Linear(prefix+".to_v", l, a.Channels, inner)
	macs := 2 * int64(a.Heads) * int64(l) * int64(l) * int64(a.HeadDim) // Q·Kᵀ and P·V
	b.Add(prefix+".attention", "attention", macs, flopsPerMAC*macs+flopsSoftmax*int64(a.Heads)*int64(l)*int64(l))
	b.Linear(prefix+".to_out.0", l, inner, a.Channels)
	b.Sum(prefix+".residual", a.Channels*l)
}

// Cost returns the analytic cost of the forward pass of one sample of h×w,
// module by module, from the configuration alone. For a
// UNet2DConditionModel it counts no text tokens: use CostAt.
func (m *Model) Cost(h, w int) Cost { return m.CostAt(h, w, 0) }

// CostAt returns the analytic cost of the forward pass of one sample of h×w
// whose cross-attention blocks attend to tokens text tokens (a
// UNet2DModel's cost does not depend on them), module by module, from the
// configuration alone.
func (m *Model) CostAt(h, w, tokens int) Cost {
	var b CostBuilder
	cfg := m.Config
	c0, temb := cfg.BlockOutChannels[0], cfg.TimeEmbedDim()
	b.Linear("time_embedding.linear_1", 1, c0, temb)
	b.Act("time_embedding.act", temb)
	b.Linear("time_embedding.linear_2", 1, temb, temb)
	if cfg.NumClasses() > 0 {
		b.Sum("class_embedding", temb) // a lookup, then the sum
	}
	if k := cfg.ClassProjection(); k > 0 {
		b.Linear("class_embedding.linear_1", 1, k, temb)
		b.Act("class_embedding.act", temb)
		b.Linear("class_embedding.linear_2", 1, temb, temb)
		b.Sum("class_embedding", temb)
	}
	b.Conv("conv_in", cfg.InChannels, c0, 3, h, w)
	// layers adds a block's resnets, each followed by its attention if any.
	layers := func(bp blockPlan, hh, ww int) {
		for j, r := range bp.resnets {
			b.ResBlock(fmt.Sprintf("%s.resnets.%d", bp.prefix, j), r, hh, ww)
			if len(bp.attns) > 0 {
				bp.attns[j].cost(&b, fmt.Sprintf("%s.attentions.%d", bp.prefix, j), hh, ww, tokens)
			}
		}
	}
	hh, ww := h, w
	for _, bp := range m.plan.down {
		layers(bp, hh, ww)
		if bp.resample {
			ho, wo := (hh+1)/2, (ww+1)/2
			b.Conv(bp.prefix+".downsamplers.0.conv", bp.out, bp.out, 3, ho, wo)
			hh, ww = ho, wo
		}
	}
	if mp := m.plan.mid; mp != nil {
		b.ResBlock("mid_block.resnets.0", mp.resnets[0], hh, ww)
		if mp.attn != nil {
			mp.attn.cost(&b, "mid_block.attentions.0", hh, ww, tokens)
		}
		b.ResBlock("mid_block.resnets.1", mp.resnets[1], hh, ww)
	}
	for _, bp := range m.plan.up {
		layers(bp, hh, ww)
		if bp.resample {
			hh, ww = 2*hh, 2*ww
			b.Conv(bp.prefix+".upsamplers.0.conv", bp.out, bp.out, 3, hh, ww)
		}
	}
	b.Norm("conv_norm_out", c0*hh*ww, true)
	b.Conv("conv_out", c0, cfg.OutChannels, 3, hh, ww)
	return b.Cost
}

// SamplingFLOPs returns the FLOPs of a sampling run of steps model
// evaluations of one h×w sample attending to tokens text tokens, of which
// approx run the high-resolution shell plus a substitute costing subFLOPs
// instead of the whole U-Net (the Clockwork case; approx = 0 for a plain
// run). Guidance doubles every pass: multiply by 2 for it.
func (m *Model) SamplingFLOPs(h, w, tokens, steps, approx int, subFLOPs int64) int64 {
	c := m.CostAt(h, w, tokens)
	shell, core := m.ShellCore(c)
	full := int64(steps-approx) * (shell + core)
	return full + int64(approx)*(shell+subFLOPs)
}
