package textenc

import (
	"fmt"
	"math"
	"path/filepath"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/weightio"
	"github.com/clockwork-go/clockwork/nn"
)

// File names inside a text encoder directory.
const (
	ConfigFile = "config.json"
	// WeightsFile is what Save writes, as transformers' save_pretrained
	// names it.
	WeightsFile = "model.safetensors"
)

// WeightsFiles are the weights files a text encoder directory may hold, in
// the order Load prefers them: transformers' safetensors, the toolkit's
// first format (.npz), and PyTorch's pickled state dict.
var WeightsFiles = []string{WeightsFile, "model.npz", "pytorch_model.bin"}

// Model is a CLIPTextModel: its configuration and its parameters, named
// as in transformers' state_dict ("text_model.…"). It is not safe for
// concurrent use.
type Model struct {
	Config Config
	Params *nn.Params
	funcs  nn.Funcs
}

// New builds a text encoder with transformers' initialisation drawn from
// seed.
func New(c Config, seed uint64) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := nn.NewParams()
	d, f := c.HiddenSize, c.InitializerFactor
	p.Declare("text_model.embeddings.token_embedding.weight", seed, nn.Normal(0.02*f), c.VocabSize, d)
	p.Declare("text_model.embeddings.position_embedding.weight", seed, nn.Normal(0.02*f), c.MaxPositionEmbeddings, d)
	inStd := math.Pow(float64(d), -0.5) * math.Pow(float64(2*c.NumHiddenLayers), -0.5) * f
	linear := func(prefix string, in, out int, std float64) {
		p.Declare(prefix+".weight", seed, nn.Normal(std), out, in)
		p.Declare(prefix+".bias", seed, nn.Const(0), out)
	}
	for i := 0; i < c.NumHiddenLayers; i++ {
		l := layer(i)
		for _, proj := range []string{"q_proj", "k_proj", "v_proj"} {
			linear(l+".self_attn."+proj, d, d, inStd)
		}
		linear(l+".self_attn.out_proj", d, d, math.Pow(float64(d), -0.5)*f)
		nn.DeclareLayerNorm(p, seed, l+".layer_norm1", d)
		linear(l+".mlp.fc1", d, c.IntermediateSize, math.Pow(float64(2*d), -0.5)*f)
		linear(l+".mlp.fc2", c.IntermediateSize, d, inStd)
		nn.DeclareLayerNorm(p, seed, l+".layer_norm2", d)
	}
	nn.DeclareLayerNorm(p, seed, "text_model.final_layer_norm", d)
	return &Model{Config: c, Params: p}, nil
}

func layer(i int) string { return fmt.Sprintf("text_model.encoder.layers.%d", i) }

// Graph adds the encoder to g: from token ids idx (N·L, as float32) and
// the key bias of their mask (N, L; MaskBias) to the last hidden state
// (N·L, hidden_size), through token and position embeddings, pre-LayerNorm
// layers of causal self-attention and an MLP, and the final LayerNorm.
func (m *Model) Graph(g *nn.Graph, idx, bias *G.Node, n, l int) *G.Node {
	c := m.Config
	pos := make([]float32, n*l)
	for i := range pos {
		pos[i] = float32(i % l)
	}
	posIdx := g.Const(fmt.Sprintf("textenc.positions(%d,%d)", n, l), tensor.New(tensor.WithShape(n*l), tensor.WithBacking(pos)))
	h := nn.Add(nn.Lookup(g.Param("text_model.embeddings.token_embedding.weight"), idx),
		nn.Lookup(g.Param("text_model.embeddings.position_embedding.weight"), posIdx))
	scale := float32(math.Pow(float64(c.headDim()), -0.5))
	for i := 0; i < c.NumHiddenLayers; i++ {
		ly := layer(i)
		a := g.LayerNorm(ly+".layer_norm1", h, c.LayerNormEps)
		att := nn.Attention(g.Linear(ly+".self_attn.q_proj", a), g.Linear(ly+".self_attn.k_proj", a), g.Linear(ly+".self_attn.v_proj", a),
			bias, n, c.NumAttentionHeads, scale, true)
		h = nn.Add(h, g.Linear(ly+".self_attn.out_proj", att))
		f := nn.Activation(g.Linear(ly+".mlp.fc1", g.LayerNorm(ly+".layer_norm2", h, c.LayerNormEps)), c.HiddenAct)
		h = nn.Add(h, g.Linear(ly+".mlp.fc2", f))
	}
	return g.LayerNorm("text_model.final_layer_norm", h, c.LayerNormEps)
}

// MaskBias returns the key bias of an attention mask (N·L values, 1 a
// token attended to, 0 one masked out; nil attends to all): 0 or the
// lowest float32, as transformers' _prepare_4d_attention_mask adds it.
func MaskBias(mask []float32, n, l int) []float32 {
	out := make([]float32, n*l)
	for i, v := range mask {
		if v == 0 {
			out[i] = -math.MaxFloat32
		}
	}
	return out
}

// PooledPositions returns, for each of n sequences of l token ids, the
// position of its end-of-text token, where the pooled output is taken: the
// first position of the largest id for configs with eos_token_id 2 (the
// legacy CLIP configs, whose end-of-text token had the largest id), else
// the first position of eos_token_id (0 when there is none), as
// transformers' CLIPTextTransformer does.
func (m *Model) PooledPositions(ids []int64, n, l int) []int {
	out := make([]int, n)
	for b := 0; b < n; b++ {
		row := ids[b*l : (b+1)*l]
		best := 0
		for j, v := range row {
			if m.Config.EosTokenID == 2 {
				if v > row[best] {
					best = j
				}
			} else if v == int64(m.Config.EosTokenID) {
				best = j
				break
			}
		}
		out[b] = best
	}
	return out
}

// Encode runs the encoder on n sequences of l token ids (mask: N·L values
// of 1 or 0, nil for all ones) and returns the last hidden state (N, L,
// hidden_size) and the pooled output (N, hidden_size).
func (m *Model) Encode(ids []int64, mask []float32, n, l int) (hidden, pooled *tensor.Dense, err error) {
	c := m.Config
	if n <= 0 || l <= 0 || len(ids) != n*l {
		return nil, nil, fmt.Errorf("text encoder: %d token ids for %d sequences of %d", len(ids), n, l)
	}
	if l > c.MaxPositionEmbeddings {
		return nil, nil, fmt.Errorf("text encoder: sequences of %d tokens exceed max_position_embeddings %d", l, c.MaxPositionEmbeddings)
	}
	if mask != nil && len(mask) != n*l {
		return nil, nil, fmt.Errorf("text encoder: a mask of %d values for %d sequences of %d", len(mask), n, l)
	}
	idx := make([]float32, n*l)
	for i, id := range ids {
		if id < 0 || id >= int64(c.VocabSize) {
			return nil, nil, fmt.Errorf("text encoder: token id %d is outside the vocabulary of %d", id, c.VocabSize)
		}
		idx[i] = float32(id)
	}
	if m.funcs.Def == nil {
		m.funcs.Def = func(shapes [][]int) nn.FuncDef {
			return nn.FuncDef{Params: m.Params, Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
				n, l := shapes[1][0], shapes[1][1]
				return []*G.Node{m.Graph(g, in[0], in[1], n, l)}, nil
			}}
		}
	}
	out, err := m.funcs.Call(tensor.New(tensor.WithShape(n*l), tensor.WithBacking(idx)),
		tensor.New(tensor.WithShape(n, l), tensor.WithBacking(MaskBias(mask, n, l))))
	if err != nil {
		return nil, nil, fmt.Errorf("text encoder: %w", err)
	}
	d := c.HiddenSize
	h := out[0].Data().([]float32)
	hidden = tensor.New(tensor.WithShape(n, l, d), tensor.WithBacking(append([]float32(nil), h...)))
	pd := make([]float32, n*d)
	for b, p := range m.PooledPositions(ids, n, l) {
		copy(pd[b*d:(b+1)*d], h[(b*l+p)*d:(b*l+p+1)*d])
	}
	return hidden, tensor.New(tensor.WithShape(n, d), tensor.WithBacking(pd)), nil
}

// Load reads a text encoder directory: config.json (transformers'
// CLIPTextConfig) and the weights in the first of WeightsFiles present
// (arrays keyed by transformers' state_dict names, any float width; the
// position_ids buffer of older checkpoints is ignored). Every parameter must be present with its shape; the error
// names the directory, the file and the first offending key.
func Load(dir string) (*Model, error) {
	c, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("load text encoder %s: %w", dir, err)
	}
	m, err := New(c, 0)
	if err != nil {
		return nil, fmt.Errorf("load text encoder %s: %w", dir, err)
	}
	path, err := weightio.Find(dir, WeightsFiles...)
	if err == nil {
		err = weightio.LoadParams(path, m.Params, "text_model.embeddings.position_ids")
	}
	if err != nil {
		return nil, fmt.Errorf("load text encoder %s: %w", dir, err)
	}
	return m, nil
}

// Save writes the text encoder directory as transformers'
// CLIPTextModel.from_pretrained reads it: model.safetensors, then
// config.json. Weights files of other formats already there are removed
// once the new one is in place.
func (m *Model) Save(dir string) error {
	if err := weightio.SaveParams(filepath.Join(dir, WeightsFile), m.Params); err != nil {
		return err
	}
	if err := weightio.RemoveOthers(dir, WeightsFile, WeightsFiles); err != nil {
		return err
	}
	return fsutil.WriteJSON(filepath.Join(dir, ConfigFile), m.Config)
}

// WithParams returns a text encoder with the same configuration over
// another parameter store of the same layout (the EMA of its weights, say).
func (m *Model) WithParams(p *nn.Params) (*Model, error) {
	if err := m.Params.SameLayout(p); err != nil {
		return nil, err
	}
	return &Model{Config: m.Config, Params: p}, nil
}

// FLOPs returns the floating-point operations of encoding one prompt of
// tokens tokens, in the conventions of unet.Cost (2 per multiply-add,
// biases not counted; LayerNorm 8 per element, softmax 5 per score, GELU 8
// and quick GELU 5 per element, additions 1): the projections, the causal
// attention's products (counted in full, as the kernels compute them), the
// MLP, the norms and the residual sums. The embeddings are lookups.
func (m *Model) FLOPs(tokens int) int64 {
	c := m.Config
	l, d, f, heads := int64(tokens), int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.NumAttentionHeads)
	act := int64(8)
	if c.HiddenAct == nn.ActQuickGELU {
		act = 5
	}
	perLayer := 2*8*l*d + // two LayerNorms
		2*4*l*d*d + // q, k, v and out projections
		2*2*l*l*d + 5*heads*l*l + // Q·Kᵀ, P·V and the softmax
		2*2*l*d*f + act*l*f + // the MLP
		2*l*d // the residual sums
	return l*d + int64(c.NumHiddenLayers)*perLayer + 8*l*d // position embeddings added, final LayerNorm
}
