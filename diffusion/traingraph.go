package diffusion

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// TrainGraph is a U-Net's training graph compiled for one batch shape: the
// model's prediction for noised samples, a per-sample weighted MSE against a
// target, and the symbolic gradient of that loss with respect to every
// parameter: the U-Net's, and the text encoder's when one is trained with
// it.
type TrainGraph struct {
	model  *unet.Model
	enc    *textenc.Model
	params *nn.Params
	n      int
	tokens int // text tokens per sample; 0 without cross-attention
	f      *nn.Func
	ones   *tensor.Dense
	in     []*tensor.Dense
}

// NewTrainGraph builds and compiles the training graph of m for batches of
// n samples of h×w. A UNet2DConditionModel attends to texts of tokens
// tokens: with a text encoder enc, the graph runs it on token ids and
// trains it jointly with the U-Net, as latent diffusion trains its
// conditioning stage (Rombach et al., CVPR 2022, Sec. 3.3); without one
// it takes the texts' embeddings. With enc, tokens must be a whole number
// of enc's max_position_embeddings: k of them are a prompt read clause by
// clause (textenc.Prompter.Clauses), each clause's ids encoded alone. enc
// and tokens are ignored for a UNet2DModel.
func NewTrainGraph(m *unet.Model, enc *textenc.Model, n, h, w, tokens int) (*TrainGraph, error) {
	c := m.Config
	shapes := [][]int{{n, c.InChannels, h, w}, {n, c.BlockOutChannels[0]}}
	k := c.ClassInputs()
	if k > 0 {
		shapes = append(shapes, []int{n, k})
	}
	params := m.Params
	if !c.Conditional() {
		tokens, enc = 0, nil
	} else {
		if tokens <= 0 {
			return nil, fmt.Errorf("train graph: a %s attends to text: %d tokens", unet.ClassUNet2DCondition, tokens)
		}
		if enc != nil {
			if enc.Config.HiddenSize != c.CrossAttentionDim {
				return nil, fmt.Errorf("train graph: the text encoder's hidden_size %d is not the U-Net's cross_attention_dim %d", enc.Config.HiddenSize, c.CrossAttentionDim)
			}
			if l := enc.Config.MaxPositionEmbeddings; tokens%l != 0 {
				return nil, fmt.Errorf("train graph: %d tokens are not whole clauses of the text encoder's max_position_embeddings %d", tokens, l)
			}
			var err error
			if params, err = nn.Join(m.Params, enc.Params); err != nil {
				return nil, err
			}
			shapes = append(shapes, []int{n * tokens})
		} else {
			shapes = append(shapes, []int{n * tokens, c.CrossAttentionDim}, []int{n, tokens})
		}
	}
	shapes = append(shapes, []int{n, c.OutChannels, h, w}, []int{n})
	f, err := nn.NewFunc(nn.FuncDef{Params: params, Inputs: shapes, Grad: true,
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			var onehot *G.Node
			next := 2
			if k > 0 {
				onehot = in[next]
				next++
			}
			var text *unet.TextNodes
			switch {
			case enc != nil:
				// No padding mask, in the encoder or the U-Net, as
				// Stable Diffusion runs CLIP (textenc.Prompter).
				// A prompt of k clauses (textenc.Prompter.Clauses) is k
				// rows of max_position_embeddings ids, each encoded
				// alone: the encoder's rows, in order, are the prompt's
				// k·l tokens.
				l := enc.Config.MaxPositionEmbeddings
				none := g.Zeros(n, tokens)
				text = &unet.TextNodes{Tokens: enc.Graph(g, in[next], g.Zeros(n*tokens/l, l), n*tokens/l, l), Bias: none}
			case tokens > 0:
				text = &unet.TextNodes{Tokens: in[next], Bias: in[next+1]}
			}
			out := m.Graph(g, in[0], in[1], onehot, text)
			return []*G.Node{nn.WeightedMSE(out, in[len(in)-2], in[len(in)-1])}, nil
		}})
	if err != nil {
		return nil, err
	}
	return &TrainGraph{model: m, enc: enc, params: params, n: n, tokens: tokens, f: f, ones: tensor.New(tensor.WithShape(n), tensor.WithBacking(ones(n)))}, nil
}

// Params returns the store the gradients are for: the U-Net's, joined
// with the text encoder's when it trains too.
func (tg *TrainGraph) Params() *nn.Params { return tg.params }

// shapeOf returns t's shape, nil for no tensor.
func shapeOf(t *tensor.Dense) tensor.Shape {
	if t == nil {
		return nil
	}
	return t.Shape()
}

func ones(n int) []float32 {
	o := make([]float32, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

// TrainInput is one batch of a training step.
type TrainInput struct {
	X *tensor.Dense // model inputs: noised samples, a conditioning image concatenated
	T []float64     // timesteps
	// Cond holds the class labels of a model with class embeddings and,
	// for a UNet2DConditionModel trained on fixed embeddings, the text.
	Cond Cond
	// IDs are the token ids (N·tokens) of the texts when the text encoder
	// trains with the U-Net.
	IDs     []int64
	Target  *tensor.Dense // the regression target
	Weights []float32     // per-sample loss weights; nil for 1
}

// Run computes the loss and the gradients for one batch.
func (tg *TrainGraph) Run(b TrainInput) (float64, error) {
	m := tg.model
	if len(b.T) != tg.n {
		return 0, fmt.Errorf("train graph: %d timesteps for a batch of %d", len(b.T), tg.n)
	}
	in := append(tg.in[:0], b.X, m.TimeProj(b.T))
	if k := m.Config.ClassProjection(); k > 0 {
		v := b.Cond.ClassVector
		if v == nil || !v.Shape().Eq(tensor.Shape{tg.n, k}) {
			return 0, fmt.Errorf("train graph: class vectors of shape %v, want (%d, %d)", shapeOf(v), tg.n, k)
		}
		in = append(in, v)
	} else if m.Config.NumClasses() > 0 {
		oh, err := m.OneHot(b.Cond.Labels)
		if err != nil {
			return 0, err
		}
		in = append(in, oh)
	}
	switch {
	case tg.enc != nil:
		if len(b.IDs) != tg.n*tg.tokens {
			return 0, fmt.Errorf("train graph: %d token ids for %d texts of %d tokens", len(b.IDs), tg.n, tg.tokens)
		}
		idx := make([]float32, len(b.IDs))
		for i, id := range b.IDs {
			if id < 0 || id >= int64(tg.enc.Config.VocabSize) {
				return 0, fmt.Errorf("train graph: token id %d is outside the vocabulary of %d", id, tg.enc.Config.VocabSize)
			}
			idx[i] = float32(id)
		}
		in = append(in, tensor.New(tensor.WithShape(len(idx)), tensor.WithBacking(idx)))
	case tg.tokens > 0:
		want := tensor.Shape{tg.n, tg.tokens, m.Config.CrossAttentionDim}
		if b.Cond.Text == nil || !b.Cond.Text.Shape().Eq(want) {
			return 0, fmt.Errorf("train graph: text of shape %v, want %v", shapeOf(b.Cond.Text), want)
		}
		in = append(in, tensor.New(tensor.WithShape(tg.n*tg.tokens, want[2]), tensor.WithBacking(b.Cond.Text.Float32s())),
			tensor.New(tensor.WithShape(tg.n, tg.tokens), tensor.WithBacking(nn.TextBias(b.Cond.TextMask, tg.n, tg.tokens))))
	}
	w := tg.ones
	if b.Weights != nil {
		w = tensor.New(tensor.WithShape(len(b.Weights)), tensor.WithBacking(b.Weights))
	}
	in = append(in, b.Target, w)
	tg.in = in
	if _, err := tg.f.Call(in...); err != nil {
		return 0, err
	}
	return tg.f.Scalar(0), nil
}

// Gradients returns the parameter names and their gradients from the last
// Run (valid until the next Run).
func (tg *TrainGraph) Gradients() ([]string, []*tensor.Dense) { return tg.f.Gradients() }
