package nn

import (
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Layers come in pairs: a Declare function adds a layer's parameters to a
// store under a name prefix, with PyTorch's default initialisation drawn from
// an explicit seed, and a Graph method applies the layer with those
// parameters. Parameter names are PyTorch's ("<prefix>.weight",
// "<prefix>.bias").

// DeclareConv adds the parameters of a k×k convolution from in to out
// channels: weight (out,in,k,k) and bias (out), both U(±1/√(in·k·k)) as in
// torch.nn.Conv2d.
func DeclareConv(p *Params, seed uint64, prefix string, in, out, k int) {
	b := 1 / math.Sqrt(float64(in*k*k))
	p.Declare(prefix+".weight", seed, Uniform(b), out, in, k, k)
	p.Declare(prefix+".bias", seed, Uniform(b), out)
}

// Conv applies the convolution declared under prefix.
func (g *Graph) Conv(prefix string, x *G.Node, geom ConvGeom) *G.Node {
	return Conv2d(x, g.Param(prefix+".weight"), g.Param(prefix+".bias"), geom)
}

// DeclareLinear adds the parameters of a linear layer: weight (out,in) and
// bias (out), both U(±1/√in) as in torch.nn.Linear.
func DeclareLinear(p *Params, seed uint64, prefix string, in, out int) {
	b := 1 / math.Sqrt(float64(in))
	p.Declare(prefix+".weight", seed, Uniform(b), out, in)
	p.Declare(prefix+".bias", seed, Uniform(b), out)
}

// Linear applies the linear layer declared under prefix to x (N,in).
func (g *Graph) Linear(prefix string, x *G.Node) *G.Node {
	return Linear(x, g.Param(prefix+".weight"), g.Param(prefix+".bias"))
}

// DeclareGroupNorm adds a GroupNorm's affine parameters for c channels:
// weight ones and bias zeros.
func DeclareGroupNorm(p *Params, seed uint64, prefix string, c int) {
	p.Declare(prefix+".weight", seed, Const(1), c)
	p.Declare(prefix+".bias", seed, Const(0), c)
}

// GroupNorm applies the GroupNorm declared under prefix, fused with a
// following SiLU when silu is set.
func (g *Graph) GroupNorm(prefix string, x *G.Node, groups int, eps float64, silu bool) *G.Node {
	return GroupNormOp(x, g.Param(prefix+".weight"), g.Param(prefix+".bias"), groups, eps, silu)
}

// DeclareEmbedding adds an embedding table (n,dim) drawn from N(0,1) as in
// torch.nn.Embedding.
func DeclareEmbedding(p *Params, seed uint64, prefix string, n, dim int) {
	p.Declare(prefix+".weight", seed, Normal(1), n, dim)
}

// Embedding looks up rows of the table declared under prefix for a one-hot
// (N,n) matrix (a matrix product, so that the table receives gradients).
func (g *Graph) Embedding(prefix string, onehot *G.Node) *G.Node {
	return MatMul(onehot, g.Param(prefix+".weight"), false, false)
}

// ResBlock is the residual block of diffusers' ResnetBlock2D (after Ho et
// al. 2020 and the ADM U-Net of Dhariwal & Nichol 2021) with the "default"
// timestep injection:
//
//	h = conv1(SiLU(norm1(x))) + time_emb_proj(SiLU(temb))[:, :, None, None]
//	h = conv2(SiLU(norm2(h)))
//	out = (shortcut(x) + h) / OutScale
//
// where shortcut is a 1×1 convolution when In ≠ Out and the identity
// otherwise. Dropout is not supported.
type ResBlock struct {
	In, Out  int     // channels
	Temb     int     // timestep-embedding width
	Groups   int     // GroupNorm groups
	Eps      float64 // GroupNorm epsilon
	OutScale float32 // output_scale_factor
}

// Declare adds the block's parameters under prefix.
func (r ResBlock) Declare(p *Params, seed uint64, prefix string) {
	DeclareGroupNorm(p, seed, prefix+".norm1", r.In)
	DeclareConv(p, seed, prefix+".conv1", r.In, r.Out, 3)
	DeclareLinear(p, seed, prefix+".time_emb_proj", r.Temb, r.Out)
	DeclareGroupNorm(p, seed, prefix+".norm2", r.Out)
	DeclareConv(p, seed, prefix+".conv2", r.Out, r.Out, 3)
	if r.In != r.Out {
		DeclareConv(p, seed, prefix+".conv_shortcut", r.In, r.Out, 1)
	}
}

// Apply runs the block on x (N,In,H,W) given SiLU(temb) (N,Temb), which
// callers compute once and share between blocks. The embedding's addition
// and the residual run inside the convolutions' output passes (ConvAdd).
func (r ResBlock) Apply(g *Graph, prefix string, x, tembAct *G.Node) *G.Node {
	return r.ApplyParts(g, prefix, []*G.Node{x}, tembAct)
}

// ApplyParts runs the block on the channel concatenation of parts (an up
// block's input and its skip: torch.cat(dim=1)). In a graph marked for
// inference the concatenation is never written out and each GroupNorm runs
// inside the convolution that reads it (NormConv), the whole block as one
// op run group by group of samples where blockFuses says so
// (ResBlockInfer); otherwise the block is
// the chain of ConcatChannels, GroupNormOp and ConvAdd, whose intermediate
// values the backward pass needs. Both give the same values to the bit
// (but see ConvAdd on planes that do not fill whole vectors).
func (r ResBlock) ApplyParts(g *Graph, prefix string, parts []*G.Node, tembAct *G.Node) *G.Node {
	same := Same(3, 1, 1)
	p := func(name string) *G.Node { return g.Param(prefix + name) }
	if g.Inference() {
		e := g.Linear(prefix+".time_emb_proj", tembAct)
		norm := NormSpec{Groups: r.Groups, Eps: r.Eps, SiLU: true}
		sh := make([]tensor.Shape, len(parts))
		for i, x := range parts {
			sh[i] = x.Shape()
		}
		if blockFuses(sh, r.Out) {
			// The parameters in the order the chain below takes them.
			g1, b1, w1, c1 := p(".norm1.weight"), p(".norm1.bias"), p(".conv1.weight"), p(".conv1.bias")
			var wsc, bsc *G.Node
			if r.In != r.Out {
				wsc, bsc = p(".conv_shortcut.weight"), p(".conv_shortcut.bias")
			}
			g2, b2, w2, c2 := p(".norm2.weight"), p(".norm2.bias"), p(".conv2.weight"), p(".conv2.bias")
			return ResBlockInfer(parts, g1, b1, norm, w1, c1, e, g2, b2, w2, c2, wsc, bsc, 1/r.OutScale)
		}
		h := NormConv(parts, p(".norm1.weight"), p(".norm1.bias"), norm, p(".conv1.weight"), p(".conv1.bias"), same, e, nil, 1)
		var skip *G.Node
		switch {
		case r.In != r.Out:
			skip = NormConv(parts, nil, nil, NormSpec{}, p(".conv_shortcut.weight"), p(".conv_shortcut.bias"), Same(1, 1, 0), nil, nil, 1)
		case len(parts) == 1:
			skip = parts[0]
		default:
			skip = concat(parts)
		}
		return NormConv([]*G.Node{h}, p(".norm2.weight"), p(".norm2.bias"), norm, p(".conv2.weight"), p(".conv2.bias"), same, nil, skip, 1/r.OutScale)
	}
	// The parameters are first used in the order of diffusers' forward
	// pass, which fixes the order of the gradients (and so the rounding of
	// their norm).
	x := concat(parts)
	h := g.GroupNorm(prefix+".norm1", x, r.Groups, r.Eps, true)
	w1, b1 := p(".conv1.weight"), p(".conv1.bias")
	h = ConvAdd(h, w1, b1, same, g.Linear(prefix+".time_emb_proj", tembAct), nil, 1)
	h = g.GroupNorm(prefix+".norm2", h, r.Groups, r.Eps, true)
	w2, b2 := p(".conv2.weight"), p(".conv2.bias")
	skip := x
	if r.In != r.Out {
		skip = g.Conv(prefix+".conv_shortcut", x, Same(1, 1, 0))
	}
	return ConvAdd(h, w2, b2, same, nil, skip, 1/r.OutScale)
}

// concat joins tensors along the channel axis, left to right.
func concat(parts []*G.Node) *G.Node {
	x := parts[0]
	for _, p := range parts[1:] {
		x = ConcatChannels(x, p)
	}
	return x
}

// SpatialAttention is the self-attention block diffusers builds with
// Attention(..., _from_deprecated_attn_block=True) inside AttnDownBlock2D,
// AttnUpBlock2D and UNetMidBlock2D: GroupNorm, multi-head self-attention over
// the H·W positions with scale 1/√HeadDim, an output projection, a residual
// connection, and division by OutScale.
type SpatialAttention struct {
	Channels int
	Heads    int
	HeadDim  int
	Groups   int // GroupNorm groups; 0 means no GroupNorm
	Eps      float64
	OutScale float32
}

// Declare adds the block's parameters under prefix (group_norm, to_q, to_k,
// to_v, to_out.0).
func (a SpatialAttention) Declare(p *Params, seed uint64, prefix string) {
	inner := a.Heads * a.HeadDim
	if a.Groups > 0 {
		DeclareGroupNorm(p, seed, prefix+".group_norm", a.Channels)
	}
	DeclareLinear(p, seed, prefix+".to_q", a.Channels, inner)
	DeclareLinear(p, seed, prefix+".to_k", a.Channels, inner)
	DeclareLinear(p, seed, prefix+".to_v", a.Channels, inner)
	DeclareLinear(p, seed, prefix+".to_out.0", inner, a.Channels)
}

// Apply runs the block on x (N,C,H,W).
func (a SpatialAttention) Apply(g *Graph, prefix string, x *G.Node) *G.Node {
	s := x.Shape()
	h := x
	if a.Groups > 0 {
		h = g.GroupNorm(prefix+".group_norm", x, a.Groups, a.Eps, false)
	}
	t := ToTokens(h)
	q := g.Linear(prefix+".to_q", t)
	k := g.Linear(prefix+".to_k", t)
	v := g.Linear(prefix+".to_v", t)
	o := MultiHeadAttention(q, k, v, s[0], a.Heads, float32(1/math.Sqrt(float64(a.HeadDim))))
	o = g.Linear(prefix+".to_out.0", o)
	return AddScaled(FromTokens(o, s), x, 1/a.OutScale)
}
