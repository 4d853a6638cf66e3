package textenc

import "fmt"

// tokenEmbedding is the name of the token embedding's weight.
const tokenEmbedding = "text_model.embeddings.token_embedding.weight"

// Extend returns a copy of p whose vocabulary also holds words (those it
// lacks get new ids after its largest, in the order given), the encoder's
// token embedding grown by as many rows, drawn as a new encoder's are from
// seed; every other weight, and the rows of the words p knows, are p's. A
// model fine-tuned on prompts with new words (an editor's instructions,
// from a text-to-image model's captions) starts from it.
func (p *Prompter) Extend(words []string, seed uint64) (*Prompter, error) {
	ids := map[string]int{}
	next := p.Tokenizer.Size()
	for w, id := range p.Tokenizer.IDs {
		ids[w] = id
	}
	for _, w := range words {
		if _, ok := ids[w]; ok {
			continue
		}
		if _, err := NewTokenizer([]string{w}); err != nil {
			return nil, err // not a lower-case word
		}
		ids[w] = next
		next++
	}
	cfg := p.Encoder.Config
	cfg.VocabSize = max(cfg.VocabSize, next)
	enc, err := New(cfg, seed)
	if err != nil {
		return nil, err
	}
	for _, name := range enc.Params.Names() {
		dst, src := enc.Params.Data(name), p.Encoder.Params.Data(name)
		if name == tokenEmbedding {
			copy(dst, src) // the known rows; the new ones keep their draw
			continue
		}
		if len(dst) != len(src) {
			return nil, fmt.Errorf("text encoder: extend: parameter %s has %d values, want %d", name, len(src), len(dst))
		}
		copy(dst, src)
	}
	tok := &Tokenizer{IDs: ids, Start: p.Tokenizer.Start, End: p.Tokenizer.End, Pad: p.Tokenizer.Pad}
	q, err := NewPrompter(enc, tok)
	if err != nil {
		return nil, err
	}
	q.Clauses = p.Clauses
	return q, nil
}
