package unet

import (
	"fmt"

	"github.com/clockwork-go/clockwork/nn"
)

// plan is the block structure a Config describes, derived once: channel
// counts, resnets, attentions and resampling of every block, following
// UNet2DModel.__init__ and the block classes of diffusers'
// unet_2d_blocks.py.
type plan struct {
	down []blockPlan
	mid  *midPlan
	up   []blockPlan
}

// blockPlan is a down or up block: resnets[i] optionally followed by
// attns[i]; then a stride-2 convolution (down) or nearest upsampling and a
// convolution (up) when resample is set.
type blockPlan struct {
	prefix   string // "down_blocks.0"
	resnets  []nn.ResBlock
	attns    []attnBlock // empty for DownBlock2D/UpBlock2D
	resample bool
	out      int
}

type midPlan struct {
	resnets []nn.ResBlock // two
	attn    attnBlock     // nil without one
}

func newPlan(c Config) (*plan, error) {
	p := &plan{}
	boc := c.BlockOutChannels
	n := len(boc)
	temb := c.TimeEmbedDim()
	groups := c.groups()
	res := func(in, out int, scale float64) nn.ResBlock {
		return nn.ResBlock{In: in, Out: out, Temb: temb, Groups: groups, Eps: c.NormEps, OutScale: float32(scale)}
	}
	attn := func(where string, ch, groups int, scale float64) (attnBlock, error) {
		if c.Conditional() {
			// attention_head_dim is the number of heads here (diffusers
			// issue 2011); each works at channels/heads.
			heads := *c.AttentionHeadDim
			if heads > ch {
				return nil, fmt.Errorf("config: %s: attention_head_dim %d (heads) exceeds its %d channels", where, heads, ch)
			}
			return crossAttn{nn.Transformer2D{Channels: ch, Heads: heads, HeadDim: ch / heads, Layers: c.TransformerLayersPerBlock,
				Groups: groups, Context: c.CrossAttentionDim, Linear: c.UseLinearProjection, Eps: 1e-5}}, nil
		}
		hd := c.headDim(ch)
		heads := ch / hd
		if heads < 1 {
			return nil, fmt.Errorf("config: %s: attention_head_dim %d exceeds its %d channels", where, hd, ch)
		}
		return selfAttn{nn.SpatialAttention{Channels: ch, Heads: heads, HeadDim: hd, Groups: groups, Eps: c.NormEps, OutScale: float32(scale)}}, nil
	}
	attnDown, attnUp := "AttnDownBlock2D", "AttnUpBlock2D"
	if c.Conditional() {
		attnDown, attnUp = "CrossAttnDownBlock2D", "CrossAttnUpBlock2D"
	}
	out := boc[0]
	for i, t := range c.DownBlockTypes {
		in := out
		out = boc[i]
		b := blockPlan{prefix: fmt.Sprintf("down_blocks.%d", i), resample: i < n-1, out: out}
		for j := 0; j < c.LayersPerBlock; j++ {
			rin := out
			if j == 0 {
				rin = in
			}
			b.resnets = append(b.resnets, res(rin, out, 1))
			if blockType(t) == attnDown {
				a, err := attn(b.prefix, out, groups, 1)
				if err != nil {
					return nil, err
				}
				b.attns = append(b.attns, a)
			}
		}
		p.down = append(p.down, b)
	}
	if c.MidBlockType != nil {
		ch := boc[n-1]
		m := &midPlan{resnets: []nn.ResBlock{res(ch, ch, c.MidBlockScaleFactor), res(ch, ch, c.MidBlockScaleFactor)}}
		if c.AddAttention || c.Conditional() {
			ag := groups
			if c.AttnNormNumGroups != nil && !c.Conditional() {
				ag = *c.AttnNormNumGroups
			}
			a, err := attn("mid_block", ch, ag, c.MidBlockScaleFactor)
			if err != nil {
				return nil, err
			}
			m.attn = a
		}
		p.mid = m
	}
	out = boc[n-1]
	for i, t := range c.UpBlockTypes {
		prev := out
		out = boc[n-1-i]
		in := boc[max(n-2-i, 0)]
		b := blockPlan{prefix: fmt.Sprintf("up_blocks.%d", i), resample: i < n-1, out: out}
		for j := 0; j <= c.LayersPerBlock; j++ {
			skip := out
			if j == c.LayersPerBlock {
				skip = in
			}
			rin := out
			if j == 0 {
				rin = prev
			}
			b.resnets = append(b.resnets, res(rin+skip, out, 1))
			if blockType(t) == attnUp {
				a, err := attn(b.prefix, out, groups, 1)
				if err != nil {
					return nil, err
				}
				b.attns = append(b.attns, a)
			}
		}
		p.up = append(p.up, b)
	}
	// Every GroupNorm must split its channels evenly.
	check := func(where string, ch, g int) error {
		if g <= 0 || ch%g != 0 {
			return fmt.Errorf("config: %s: %d channels do not split into %d norm groups", where, ch, g)
		}
		return nil
	}
	for _, bs := range [][]blockPlan{p.down, p.up} {
		for _, b := range bs {
			for j, r := range b.resnets {
				where := fmt.Sprintf("%s.resnets.%d", b.prefix, j)
				if err := check(where, r.In, r.Groups); err != nil {
					return nil, err
				}
				if err := check(where, r.Out, r.Groups); err != nil {
					return nil, err
				}
			}
		}
	}
	if p.mid != nil {
		if err := check("mid_block", boc[n-1], groups); err != nil {
			return nil, err
		}
		if p.mid.attn != nil {
			if err := check("mid_block.attentions.0", boc[n-1], p.mid.attn.groups()); err != nil {
				return nil, err
			}
		}
	}
	if err := check("conv_norm_out", boc[0], c.groupsOut()); err != nil {
		return nil, err
	}
	return p, nil
}

// declare adds every parameter of the model to ps, in diffusers' state_dict
// order, with PyTorch's default initialisation from seed.
func (p *plan) declare(c Config, ps *nn.Params, seed uint64) {
	boc := c.BlockOutChannels
	temb := c.TimeEmbedDim()
	nn.DeclareConv(ps, seed, "conv_in", c.InChannels, boc[0], 3)
	nn.DeclareLinear(ps, seed, "time_embedding.linear_1", boc[0], temb)
	nn.DeclareLinear(ps, seed, "time_embedding.linear_2", temb, temb)
	if k := c.NumClasses(); k > 0 {
		nn.DeclareEmbedding(ps, seed, "class_embedding", k, temb)
	}
	if k := c.ClassProjection(); k > 0 {
		nn.DeclareLinear(ps, seed, "class_embedding.linear_1", k, temb)
		nn.DeclareLinear(ps, seed, "class_embedding.linear_2", temb, temb)
	}
	declareBlock := func(b blockPlan, down bool) {
		attns := func() {
			for j, a := range b.attns {
				a.Declare(ps, seed, fmt.Sprintf("%s.attentions.%d", b.prefix, j))
			}
		}
		if c.Conditional() {
			attns() // the CrossAttn blocks register their attentions first
		}
		for j, r := range b.resnets {
			r.Declare(ps, seed, fmt.Sprintf("%s.resnets.%d", b.prefix, j))
		}
		if !c.Conditional() {
			attns()
		}
		if b.resample {
			if down {
				nn.DeclareConv(ps, seed, b.prefix+".downsamplers.0.conv", b.out, b.out, 3)
			} else {
				nn.DeclareConv(ps, seed, b.prefix+".upsamplers.0.conv", b.out, b.out, 3)
			}
		}
	}
	for _, b := range p.down {
		declareBlock(b, true)
	}
	for _, b := range p.up {
		declareBlock(b, false)
	}
	if p.mid != nil {
		if p.mid.attn != nil {
			p.mid.attn.Declare(ps, seed, "mid_block.attentions.0")
		}
		for j, r := range p.mid.resnets {
			r.Declare(ps, seed, fmt.Sprintf("mid_block.resnets.%d", j))
		}
	}
	nn.DeclareGroupNorm(ps, seed, "conv_norm_out", boc[0])
	nn.DeclareConv(ps, seed, "conv_out", boc[0], c.OutChannels, 3)
}
