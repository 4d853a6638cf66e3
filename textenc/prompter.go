package textenc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gorgonia.org/tensor"
)

// Prompter turns prompts into the text a UNet2DConditionModel attends to:
// a text encoder with its tokenizer. Every prompt is padded to the
// encoder's max_position_embeddings tokens and encoded without a padding
// mask, as Stable Diffusion's pipelines run CLIP's text model (causal
// attention keeps the padding from changing the prompt's tokens), so that
// one prompt has one embedding whatever the batch. Embeddings are cached
// per prompt. A Prompter is not safe for concurrent use.
type Prompter struct {
	Encoder   *Model
	Tokenizer *Tokenizer

	cache map[string]embedding
}

type embedding struct{ hidden, pooled []float32 }

// NewPrompter pairs an encoder with a tokenizer, checking that every
// token id fits the encoder's vocabulary.
func NewPrompter(enc *Model, tok *Tokenizer) (*Prompter, error) {
	if n := tok.Size(); n > enc.Config.VocabSize {
		return nil, fmt.Errorf("text encoder: the tokenizer (%s) has ids up to %d, the encoder's vocab_size is %d", tok.where(), n-1, enc.Config.VocabSize)
	}
	if enc.Config.MaxPositionEmbeddings < 2 {
		return nil, fmt.Errorf("text encoder: max_position_embeddings %d leaves no room for a word", enc.Config.MaxPositionEmbeddings)
	}
	return &Prompter{Encoder: enc, Tokenizer: tok, cache: map[string]embedding{}}, nil
}

// LoadPrompter reads a text encoder directory with its vocabulary
// (config.json, the weights, vocab.json). In a diffusers pipeline, where
// the vocabulary lies in tokenizer/ beside text_encoder/, it is read from
// there when dir has none.
func LoadPrompter(dir string) (*Prompter, error) {
	enc, err := Load(dir)
	if err != nil {
		return nil, err
	}
	tokDir := dir
	if _, err := os.Stat(filepath.Join(dir, VocabFile)); errors.Is(err, fs.ErrNotExist) {
		if sib := filepath.Join(filepath.Dir(dir), TokenizerDir); fileExists(filepath.Join(sib, VocabFile)) {
			tokDir = sib
		}
	}
	tok, err := LoadTokenizer(tokDir)
	if err != nil {
		return nil, fmt.Errorf("load text encoder %s: %w", dir, err)
	}
	return NewPrompter(enc, tok)
}

// Save writes the encoder and its vocabulary to dir.
func (p *Prompter) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := p.Encoder.Save(dir); err != nil {
		return err
	}
	return p.Tokenizer.Save(dir)
}

// Tokens returns the length every prompt is padded to.
func (p *Prompter) Tokens() int { return p.Encoder.Config.MaxPositionEmbeddings }

// Width returns the width of a token's embedding (hidden_size), the
// cross_attention_dim of the U-Nets that attend to it.
func (p *Prompter) Width() int { return p.Encoder.Config.HiddenSize }

// IDs returns the token ids of prompts, each padded to Tokens, row after
// row. An unknown word or a prompt too long is an error naming it.
func (p *Prompter) IDs(prompts []string) ([]int64, error) {
	ids, _, err := p.Tokenizer.Encode(prompts, p.Tokens())
	return ids, err
}

// Embed returns the last hidden states (N, Tokens, Width) of prompts, the
// encoder_hidden_states of a UNet2DConditionModel.
func (p *Prompter) Embed(prompts []string) (*tensor.Dense, error) {
	h, _, err := p.embed(prompts)
	return h, err
}

// Pooled returns the pooled outputs (N, Width) of prompts: the hidden
// state at each prompt's end-of-text token.
func (p *Prompter) Pooled(prompts []string) (*tensor.Dense, error) {
	_, pooled, err := p.embed(prompts)
	return pooled, err
}

func (p *Prompter) embed(prompts []string) (hidden, pooled *tensor.Dense, err error) {
	l, d := p.Tokens(), p.Width()
	var todo []string
	seen := map[string]bool{}
	for _, s := range prompts {
		if _, ok := p.cache[s]; !ok && !seen[s] {
			todo = append(todo, s)
			seen[s] = true
		}
	}
	if len(todo) > 0 {
		ids, err := p.IDs(todo)
		if err != nil {
			return nil, nil, err
		}
		// One prompt at a time: its embedding is then the same bits
		// whichever prompts it is cached with.
		for i, s := range todo {
			h, pl, err := p.Encoder.Encode(ids[i*l:(i+1)*l], nil, 1, l)
			if err != nil {
				return nil, nil, err
			}
			p.cache[s] = embedding{hidden: h.Float32s(), pooled: pl.Float32s()}
		}
	}
	hv := make([]float32, 0, len(prompts)*l*d)
	pv := make([]float32, 0, len(prompts)*d)
	for _, s := range prompts {
		e := p.cache[s]
		hv = append(hv, e.hidden...)
		pv = append(pv, e.pooled...)
	}
	return tensor.New(tensor.WithShape(len(prompts), l, d), tensor.WithBacking(hv)),
		tensor.New(tensor.WithShape(len(prompts), d), tensor.WithBacking(pv)), nil
}

// Forget empties the cache (after the encoder's weights change).
func (p *Prompter) Forget() { p.cache = map[string]embedding{} }

// Dir is where a text-conditioned model directory keeps its text encoder
// and vocabulary.
const Dir = "text_encoder"

// TokenizerDir is where a diffusers pipeline keeps its tokenizer, beside
// text_encoder/.
const TokenizerDir = "tokenizer"

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ModelDir returns the text encoder directory of a model directory (or of
// a diffusers pipeline).
func ModelDir(model string) string { return filepath.Join(model, Dir) }
