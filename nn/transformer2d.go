package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Transformer2D is diffusers' Transformer2DModel on feature maps, the
// cross-attention block of UNet2DConditionModel (Rombach et al.,
// "High-Resolution Image Synthesis with Latent Diffusion Models", CVPR
// 2022): a GroupNorm (ε 1e-6), proj_in (a 1×1 convolution, or a linear
// layer on tokens when Linear), Layers BasicTransformerBlocks
// (pre-LayerNorm residual self-attention attn1, cross-attention attn2 on
// the context, and a GEGLU feed-forward of four times the width), proj_out
// and a residual connection from the input.
type Transformer2D struct {
	Channels int // channels of the feature map
	Heads    int // attention heads; the blocks work at Heads·HeadDim
	HeadDim  int
	Layers   int     // BasicTransformerBlocks
	Groups   int     // GroupNorm groups
	Context  int     // width of the context tokens (cross_attention_dim)
	Linear   bool    // use_linear_projection
	Eps      float64 // LayerNorm ε (1e-5 in diffusers)
	// Anchors, when set, makes the self-attention FAIRY's anchor-based
	// cross-frame attention (KVStore); it has no parameters.
	Anchors *KVStore
}

// inner returns the width the blocks work at.
func (t Transformer2D) inner() int { return t.Heads * t.HeadDim }

// Validate reports a block that cannot be built.
func (t Transformer2D) Validate() error {
	switch {
	case t.Channels <= 0 || t.Heads <= 0 || t.HeadDim <= 0 || t.Layers <= 0 || t.Context <= 0:
		return fmt.Errorf("transformer block: channels %d, heads %d of %d, %d layers and context %d must be positive", t.Channels, t.Heads, t.HeadDim, t.Layers, t.Context)
	case t.Groups <= 0 || t.Channels%t.Groups != 0:
		return fmt.Errorf("transformer block: %d channels do not split into %d norm groups", t.Channels, t.Groups)
	}
	return nil
}

// declareNoBias adds a linear layer without bias (to_q, to_k, to_v).
func declareNoBias(p *Params, seed uint64, prefix string, in, out int) {
	p.Declare(prefix+".weight", seed, Uniform(1/math.Sqrt(float64(in))), out, in)
}

// DeclareLayerNorm adds a LayerNorm's affine parameters for c channels:
// weight ones and bias zeros.
func DeclareLayerNorm(p *Params, seed uint64, prefix string, c int) {
	DeclareGroupNorm(p, seed, prefix, c)
}

// LayerNorm applies the LayerNorm declared under prefix to tokens x.
func (g *Graph) LayerNorm(prefix string, x *G.Node, eps float64) *G.Node {
	return LayerNorm(x, g.Param(prefix+".weight"), g.Param(prefix+".bias"), eps)
}

// Declare adds the block's parameters under prefix, with diffusers' names.
func (t Transformer2D) Declare(p *Params, seed uint64, prefix string) {
	c, d := t.Channels, t.inner()
	DeclareGroupNorm(p, seed, prefix+".norm", c)
	if t.Linear {
		DeclareLinear(p, seed, prefix+".proj_in", c, d)
	} else {
		DeclareConv(p, seed, prefix+".proj_in", c, d, 1)
	}
	for i := 0; i < t.Layers; i++ {
		b := fmt.Sprintf("%s.transformer_blocks.%d", prefix, i)
		for j, kv := range []int{d, t.Context} {
			a := fmt.Sprintf("%s.attn%d", b, j+1)
			DeclareLayerNorm(p, seed, fmt.Sprintf("%s.norm%d", b, j+1), d)
			declareNoBias(p, seed, a+".to_q", d, d)
			declareNoBias(p, seed, a+".to_k", kv, d)
			declareNoBias(p, seed, a+".to_v", kv, d)
			DeclareLinear(p, seed, a+".to_out.0", d, d)
		}
		DeclareLayerNorm(p, seed, b+".norm3", d)
		DeclareLinear(p, seed, b+".ff.net.0.proj", d, 8*d)
		DeclareLinear(p, seed, b+".ff.net.2", 4*d, d)
	}
	if t.Linear {
		DeclareLinear(p, seed, prefix+".proj_out", d, c)
	} else {
		DeclareConv(p, seed, prefix+".proj_out", d, c, 1)
	}
}

// Apply runs the block on x (N,C,H,W) with the context tokens ctx
// (N·L, Context) and their key bias (N, L): 0 for a token attended to, a
// large negative value for one masked out (TextBias).
func (t Transformer2D) Apply(g *Graph, prefix string, x, ctx, bias *G.Node) *G.Node {
	s := x.Shape().Clone()
	n, d := s[0], t.inner()
	h := g.GroupNorm(prefix+".norm", x, t.Groups, 1e-6, false)
	if t.Linear {
		h = g.Linear(prefix+".proj_in", ToTokens(h))
	} else {
		h = ToTokens(g.Conv(prefix+".proj_in", h, Same(1, 1, 0)))
	}
	scale := float32(1 / math.Sqrt(float64(t.HeadDim)))
	self := g.Zeros(n, s[2]*s[3])
	for i := 0; i < t.Layers; i++ {
		b := fmt.Sprintf("%s.transformer_blocks.%d", prefix, i)
		attend := func(j int, q, kv, bias *G.Node) *G.Node {
			a := fmt.Sprintf("%s.attn%d", b, j)
			w := func(name string) *G.Node { return g.Param(a + "." + name + ".weight") }
			k, v := MatMul(kv, w("to_k"), false, true), MatMul(kv, w("to_v"), false, true)
			if j == 1 && t.Anchors != nil {
				// FAIRY's anchor attention: the keys and values of the
				// anchor frames beside (or instead of) the frame's own.
				l := s[2] * s[3]
				k, v = t.Anchors.Extend(a+".k", k, n, l), t.Anchors.Extend(a+".v", v, n, l)
				bias = g.Zeros(n, t.Anchors.Tokens(l))
			}
			o := Attention(MatMul(q, w("to_q"), false, true), k, v, bias, n, t.Heads, scale, false)
			return g.Linear(a+".to_out.0", o)
		}
		n1 := g.LayerNorm(b+".norm1", h, t.Eps)
		h = Add(h, attend(1, n1, n1, self))
		h = Add(h, attend(2, g.LayerNorm(b+".norm2", h, t.Eps), ctx, bias))
		ff := GEGLU(g.Linear(b+".ff.net.0.proj", g.LayerNorm(b+".norm3", h, t.Eps)))
		h = Add(h, g.Linear(b+".ff.net.2", ff))
	}
	ts := tensor.Shape{n, d, s[2], s[3]}
	if t.Linear {
		h = FromTokens(g.Linear(prefix+".proj_out", h), s)
	} else {
		h = g.Conv(prefix+".proj_out", FromTokens(h, ts), Same(1, 1, 0))
	}
	return Add(h, x)
}

// Zeros returns a constant node of zeros of the given shape (a key bias that
// masks nothing), one per shape and graph.
func (g *Graph) Zeros(shape ...int) *G.Node {
	return g.Const(fmt.Sprintf("zeros%v", shape), tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32)))
}

// Const returns a constant node holding t under a name, one per name and
// graph (the first call's value counts).
func (g *Graph) Const(name string, t *tensor.Dense) *G.Node {
	if n, ok := g.nodes[name]; ok {
		return n
	}
	s := t.Shape().Clone()
	n := G.NewTensor(g.G, tensor.Float32, len(s), G.WithShape(s...), G.WithName(name), G.WithValue(t))
	g.nodes[name] = n
	return n
}

// TextBias returns the additive key bias of a token mask (1 attend, 0
// drop): (1 − mask)·−10000, as diffusers' UNet2DConditionModel turns
// encoder_attention_mask into a bias; nil or an empty mask attends to
// every token.
func TextBias(mask []float32, n, tokens int) []float32 {
	out := make([]float32, n*tokens)
	for i, m := range mask {
		out[i] = (1 - m) * -10000
	}
	return out
}
