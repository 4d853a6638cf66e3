package unet

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
)

// Cond is what a U-Net is conditioned on besides the timestep: class
// labels for a model with num_class_embeds, and for a cross-attention
// U-Net (UNet2DConditionModel) the text it attends to,
// encoder_hidden_states (N, tokens, cross_attention_dim), with its mask
// (N·tokens values, 1 for a token attended to and 0 for one dropped; nil:
// every token).
//
// ClassVector is the class_labels of a "projection" class embedding, one
// vector of projection_class_embeddings_input_dim values per row.
type Cond struct {
	Labels      []int64
	Text        *tensor.Dense
	TextMask    []float32
	ClassVector []float32
}

// attnBlock is an attention block of a level: spatial self-attention (the
// Attn blocks of UNet2DModel) or a transformer with cross-attention on the
// text (the CrossAttn blocks of UNet2DConditionModel).
type attnBlock interface {
	Declare(p *nn.Params, seed uint64, prefix string)
	apply(g *nn.Graph, prefix string, h *G.Node, text *TextNodes) *G.Node
	groups() int
	cost(b *CostBuilder, prefix string, hh, ww, tokens int)
	// activations returns the float32 elements the block's forward pass
	// computes per sample at l positions (attention matrices aside).
	activations(l, tokens float64) float64
}

// TextNodes are the text a graph's cross-attention blocks attend to:
// Tokens (N·L, cross_attention_dim), encoder_hidden_states with its batch
// and token axes merged, and their key bias Bias (N, L), 0 for a token
// attended to and −10000 for one masked out (nn.TextBias).
type TextNodes struct{ Tokens, Bias *G.Node }

type selfAttn struct{ nn.SpatialAttention }

func (a selfAttn) apply(g *nn.Graph, prefix string, h *G.Node, _ *TextNodes) *G.Node {
	return a.Apply(g, prefix, h)
}

func (a selfAttn) groups() int { return a.Groups }

func (a selfAttn) cost(b *CostBuilder, prefix string, hh, ww, _ int) {
	b.Attention(prefix, a.SpatialAttention, hh, ww)
}

func (a selfAttn) activations(l, _ float64) float64 {
	// norm, q, k, v, the weighted values, the output projection and the
	// residual sum (the attention matrices live in scratch memory, one
	// sequence at a time).
	return l * (3*float64(a.Channels) + 4*float64(a.Heads*a.HeadDim))
}

type crossAttn struct{ nn.Transformer2D }

func (a crossAttn) apply(g *nn.Graph, prefix string, h *G.Node, text *TextNodes) *G.Node {
	if text == nil {
		panic(fmt.Sprintf("unet: %s: a cross-attention block without text", prefix))
	}
	return a.Apply(g, prefix, h, text.Tokens, text.Bias)
}

func (a crossAttn) groups() int { return a.Groups }

func (a crossAttn) cost(b *CostBuilder, prefix string, hh, ww, tokens int) {
	b.Transformer(prefix, a.Transformer2D, hh, ww, tokens)
}

func (a crossAttn) activations(l, tokens float64) float64 {
	c, d := float64(a.Channels), float64(a.Heads*a.HeadDim)
	// norm and proj_in, then per layer three LayerNorms, two attentions'
	// q, k, v, weighted values and outputs, the feed-forward's 8d and 4d
	// and the residual sums; proj_out and the residual.
	perLayer := l*(3*d+4*d+2*d+4*d+8*d+4*d+3*d) + 2*tokens*d
	return l*(c+d) + float64(a.Layers)*perLayer + l*2*c
}

// Transformer appends a Transformer2D block at hh×ww attending to tokens
// text tokens.
func (b *CostBuilder) Transformer(prefix string, t nn.Transformer2D, hh, ww, tokens int) {
	l := hh * ww
	c, d := t.Channels, t.Heads*t.HeadDim
	b.Norm(prefix+".norm", c*l, false)
	proj := func(name string, in, out int) {
		if t.Linear {
			b.Linear(name, l, in, out)
		} else {
			b.Conv(name, in, out, 1, hh, ww)
		}
	}
	proj(prefix+".proj_in", c, d)
	// attention counts the projections of lk keys and values and the
	// attention of l queries to keys keys (more than lk with FAIRY's
	// anchors, whose keys and values are cached).
	attention := func(name string, lk, kv, keys int) {
		b.Linear(name+".to_q", l, d, d)
		b.Linear(name+".to_k", lk, kv, d)
		b.Linear(name+".to_v", lk, kv, d)
		macs := 2 * int64(t.Heads) * int64(l) * int64(keys) * int64(t.HeadDim) // Q·Kᵀ and P·V
		b.Add(name+".attention", "attention", macs, flopsPerMAC*macs+flopsSoftmax*int64(t.Heads)*int64(l)*int64(keys))
		b.Linear(name+".to_out.0", l, d, d)
	}
	for i := 0; i < t.Layers; i++ {
		p := fmt.Sprintf("%s.transformer_blocks.%d", prefix, i)
		b.Norm(p+".norm1", d*l, false)
		keys := l
		if t.Anchors != nil {
			keys = t.Anchors.Tokens(l)
		}
		attention(p+".attn1", l, d, keys)
		b.Sum(p+".attn1.residual", d*l)
		b.Norm(p+".norm2", d*l, false)
		attention(p+".attn2", tokens, t.Context, tokens)
		b.Sum(p+".attn2.residual", d*l)
		b.Norm(p+".norm3", d*l, false)
		b.Linear(p+".ff.net.0.proj", l, d, 8*d)
		b.Add(p+".ff.geglu", "act", 0, (flopsGELU+1)*int64(4*d*l))
		b.Linear(p+".ff.net.2", l, 4*d, d)
		b.Sum(p+".ff.residual", d*l)
	}
	proj(prefix+".proj_out", d, c)
	b.Sum(prefix+".residual", c*l)
}

// flopsGELU is the FLOP count of a GELU per element (the erf and the
// scaling), in the conventions of Cost.
const flopsGELU = 8

// textInputs checks the text of cond against the model and the batch of n,
// and returns the tensors the cross-attention stages take: the tokens
// (N·L, cross_attention_dim) and their key bias (N, L). A model without
// cross-attention takes no text (nil, 0).
func (m *Model) textInputs(cond Cond, n int) ([]*tensor.Dense, int, error) {
	c := m.Config
	if !c.Conditional() {
		if cond.Text != nil || cond.TextMask != nil {
			return nil, 0, fmt.Errorf("model is a %s without cross-attention: text given", ClassUNet2D)
		}
		return nil, 0, nil
	}
	if cond.Text == nil {
		return nil, 0, fmt.Errorf("model is a %s: encoder_hidden_states (the text, N×tokens×%d) are required", ClassUNet2DCondition, c.CrossAttentionDim)
	}
	s := cond.Text.Shape()
	if len(s) != 3 || s[0] != n || s[1] < 1 || s[2] != c.CrossAttentionDim {
		return nil, 0, fmt.Errorf("encoder_hidden_states have shape %v, want (%d, tokens, %d): a batch of %d and cross_attention_dim %d", s, n, c.CrossAttentionDim, n, c.CrossAttentionDim)
	}
	if cond.Text.Dtype() != tensor.Float32 {
		return nil, 0, fmt.Errorf("encoder_hidden_states have dtype %v, want float32", cond.Text.Dtype())
	}
	l := s[1]
	data := cond.Text.Float32s()
	for _, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, 0, fmt.Errorf("encoder_hidden_states hold NaN or Inf")
		}
	}
	if cond.TextMask != nil {
		if len(cond.TextMask) != n*l {
			return nil, 0, fmt.Errorf("encoder_attention_mask has %d values for %d×%d tokens", len(cond.TextMask), n, l)
		}
		for i, v := range cond.TextMask {
			if v != 0 && v != 1 {
				return nil, 0, fmt.Errorf("encoder_attention_mask value %v (sample %d, token %d) is not 0 or 1", v, i/l, i%l)
			}
		}
	}
	tokens := tensor.New(tensor.WithShape(n*l, s[2]), tensor.WithBacking(data))
	bias := tensor.New(tensor.WithShape(n, l), tensor.WithBacking(nn.TextBias(cond.TextMask, n, l)))
	return []*tensor.Dense{tokens, bias}, l, nil
}
