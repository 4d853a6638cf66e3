package textenc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"
)

// Prompter turns prompts into the text a UNet2DConditionModel attends to:
// a text encoder with its tokenizer. Every prompt (every clause, see
// Clauses) is padded to the encoder's max_position_embeddings tokens and
// encoded without a padding mask, as Stable Diffusion's pipelines run
// CLIP's text model (causal attention keeps the padding from changing the
// prompt's tokens), so that one prompt has one embedding whatever the
// batch. Embeddings are cached
// per prompt (per clause, see Clauses). A Prompter is not safe for
// concurrent use.
type Prompter struct {
	Encoder   *Model
	Tokenizer *Tokenizer
	// Clauses, above 1, encodes a prompt clause by clause: it is cut at
	// each word "and" into at most Clauses clauses, each encoded alone
	// (missing ones as the empty prompt), and the U-Net attends to their
	// hidden states one after the other, Clauses × max_position_embeddings
	// tokens. A clause's tokens are then the same whatever the other
	// clause says, which a causal encoder reading the whole prompt does
	// not give ("make it thicker and make it bigger": the second clause's
	// tokens see the first). 0 or 1 encodes the whole prompt, as Stable
	// Diffusion's pipelines do. Saved as ClausesFile beside the encoder.
	Clauses int

	cache map[string]embedding
}

// ClausesFile, in a text encoder directory, holds a Prompter's Clauses
// when above 1: {"clauses": k}. A diffusers pipeline does not read it: it
// encodes the whole prompt.
const ClausesFile = "clauses.json"

// MaxClauses bounds Clauses.
const MaxClauses = 8

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
	p, err := NewPrompter(enc, tok)
	if err != nil {
		return nil, err
	}
	if p.Clauses, err = readClauses(filepath.Join(dir, ClausesFile)); err != nil {
		return nil, fmt.Errorf("load text encoder %s: %w", dir, err)
	}
	return p, nil
}

// readClauses reads ClausesFile (absent: 0, the whole prompt).
func readClauses(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var c struct {
		Clauses *int `json:"clauses"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if c.Clauses == nil || *c.Clauses < 1 || *c.Clauses > MaxClauses {
		return 0, fmt.Errorf("%s: \"clauses\" must be 1 to %d", path, MaxClauses)
	}
	return *c.Clauses, nil
}

// Save writes the encoder and its vocabulary to dir, and ClausesFile when
// Clauses is above 1.
func (p *Prompter) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := p.Encoder.Save(dir); err != nil {
		return err
	}
	if err := p.Tokenizer.Save(dir); err != nil {
		return err
	}
	path := filepath.Join(dir, ClausesFile)
	if p.Clauses > 1 {
		return os.WriteFile(path, []byte(fmt.Sprintf("{\"clauses\": %d}\n", p.Clauses)), 0o644)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err // a stale one would make the directory read clauses
	}
	return nil
}

// clauses returns Clauses, at least 1.
func (p *Prompter) clauses() int { return max(p.Clauses, 1) }

// Tokens returns the length of a prompt's hidden states: Clauses (at
// least 1) times the encoder's max_position_embeddings, the length every
// clause is padded to.
func (p *Prompter) Tokens() int { return p.clauses() * p.Encoder.Config.MaxPositionEmbeddings }

// FLOPs returns the floating-point operations of encoding one prompt: one
// pass of the encoder per clause.
func (p *Prompter) FLOPs() int64 {
	return int64(p.clauses()) * p.Encoder.FLOPs(p.Encoder.Config.MaxPositionEmbeddings)
}

// DistinctFLOPs returns the floating-point operations of encoding prompts
// as the cache does: one pass of the encoder per distinct prompt, or per
// distinct clause with Clauses above 1.
func (p *Prompter) DistinctFLOPs(prompts []string) (int64, error) {
	seen := map[string]bool{}
	for _, s := range prompts {
		cl, err := p.Split(s)
		if err != nil {
			return 0, err
		}
		for _, c := range cl {
			seen[c] = true
		}
	}
	return int64(len(seen)) * p.Encoder.FLOPs(p.Encoder.Config.MaxPositionEmbeddings), nil
}

// Split returns the clauses prompt is encoded as: itself when Clauses is 0
// or 1, else its parts between the words "and", the empty prompt for
// missing ones. More parts than Clauses is an error naming the prompt.
func (p *Prompter) Split(prompt string) ([]string, error) {
	k := p.clauses()
	if k == 1 {
		return []string{prompt}, nil
	}
	out := make([]string, 0, k)
	var cur []string
	for _, w := range append(Words(prompt), "and") {
		if w != "and" {
			cur = append(cur, w)
			continue
		}
		if len(out) == k {
			return nil, fmt.Errorf("prompt %q: more than the %d clauses this text encoder reads", prompt, k)
		}
		out = append(out, strings.Join(cur, " "))
		cur = nil
	}
	for len(out) < k {
		out = append(out, "")
	}
	return out, nil
}

// Width returns the width of a token's embedding (hidden_size), the
// cross_attention_dim of the U-Nets that attend to it.
func (p *Prompter) Width() int { return p.Encoder.Config.HiddenSize }

// IDs returns the token ids of prompts, Tokens per prompt, row after row:
// each clause (Split) padded to max_position_embeddings. An unknown word
// or a prompt too long is an error naming it.
func (p *Prompter) IDs(prompts []string) ([]int64, error) {
	l := p.Encoder.Config.MaxPositionEmbeddings
	if p.clauses() == 1 {
		ids, _, err := p.Tokenizer.Encode(prompts, l)
		return ids, err
	}
	ids := make([]int64, 0, len(prompts)*p.Tokens())
	for i, s := range prompts {
		c, err := p.Split(s)
		if err != nil {
			return nil, err
		}
		row, _, err := p.Tokenizer.Encode(c, l)
		if err != nil {
			return nil, fmt.Errorf("prompt %d %q, clause by clause: %w", i, s, err)
		}
		ids = append(ids, row...)
	}
	return ids, nil
}

// Embed returns the last hidden states (N, Tokens, Width) of prompts, the
// encoder_hidden_states of a UNet2DConditionModel.
func (p *Prompter) Embed(prompts []string) (*tensor.Dense, error) {
	h, _, err := p.embed(prompts)
	return h, err
}

// Pooled returns the pooled outputs (N, Width) of prompts: the hidden
// state at each prompt's end-of-text token (its first clause's, with
// Clauses above 1).
func (p *Prompter) Pooled(prompts []string) (*tensor.Dense, error) {
	_, pooled, err := p.embed(prompts)
	return pooled, err
}

func (p *Prompter) embed(prompts []string) (hidden, pooled *tensor.Dense, err error) {
	l, d := p.Encoder.Config.MaxPositionEmbeddings, p.Width()
	var todo []string
	seen := map[string]bool{}
	var parts [][]string
	for _, s := range prompts {
		cl, err := p.Split(s)
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, cl)
		for _, c := range cl {
			if _, ok := p.cache[c]; !ok && !seen[c] {
				todo = append(todo, c)
				seen[c] = true
			}
		}
	}
	if len(todo) > 0 {
		ids, _, err := p.Tokenizer.Encode(todo, l)
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
	hv := make([]float32, 0, len(prompts)*p.Tokens()*d)
	pv := make([]float32, 0, len(prompts)*d)
	for _, cl := range parts {
		for _, c := range cl {
			hv = append(hv, p.cache[c].hidden...)
		}
		pv = append(pv, p.cache[cl[0]].pooled...)
	}
	return tensor.New(tensor.WithShape(len(prompts), p.Tokens(), d), tensor.WithBacking(hv)),
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
