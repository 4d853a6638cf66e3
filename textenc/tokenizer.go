package textenc

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// VocabFile is the tokenizer's file in a text encoder directory.
const VocabFile = "vocab.json"

// The special tokens of the vocabulary, as CLIP's tokenizer names them.
const (
	StartToken = "<|startoftext|>"
	EndToken   = "<|endoftext|>"
	PadToken   = "<|pad|>"
)

// Tokenizer turns prompts into token ids over a closed, word-level
// vocabulary: lower-cased words separated by spaces or punctuation, each a
// token, framed by the start and end tokens and padded to a fixed length.
// An unknown word is an error that names it and the vocabulary's file.
type Tokenizer struct {
	// IDs maps a word to its token id.
	IDs map[string]int
	// Path is where the vocabulary was read from (for errors).
	Path            string
	Start, End, Pad int
}

// NewTokenizer builds a tokenizer over words (the special tokens first,
// then words in order).
func NewTokenizer(words []string) (*Tokenizer, error) {
	ids := map[string]int{StartToken: 0, EndToken: 1, PadToken: 2}
	for _, w := range words {
		if w == "" || strings.IndexFunc(w, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }) >= 0 || w != strings.ToLower(w) {
			return nil, fmt.Errorf("tokenizer: %q is not a lower-case word", w)
		}
		if _, ok := ids[w]; ok {
			return nil, fmt.Errorf("tokenizer: word %q given twice", w)
		}
		ids[w] = len(ids)
	}
	return &Tokenizer{IDs: ids, Start: 0, End: 1, Pad: 2}, nil
}

// LoadTokenizer reads a vocab.json ({"word": id, …}, with the special
// tokens) from a text encoder directory.
func LoadTokenizer(dir string) (*Tokenizer, error) {
	path := filepath.Join(dir, VocabFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ids map[string]int
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "merges.txt")); err == nil {
		return nil, fmt.Errorf("%s is a byte-pair-encoding vocabulary (merges.txt beside it), as CLIP's tokenizer has: the toolkit's tokenizer is word-level over a closed vocabulary and does not read BPE", path)
	}
	t := &Tokenizer{IDs: ids, Path: path}
	seen := map[int]string{}
	for w, id := range ids {
		if id < 0 {
			return nil, fmt.Errorf("%s: word %q has id %d", path, w, id)
		}
		if o, ok := seen[id]; ok {
			return nil, fmt.Errorf("%s: words %q and %q share id %d", path, o, w, id)
		}
		seen[id] = w
	}
	for _, s := range []struct {
		name string
		id   *int
	}{{StartToken, &t.Start}, {EndToken, &t.End}, {PadToken, &t.Pad}} {
		id, ok := ids[s.name]
		if !ok {
			return nil, fmt.Errorf("%s: no %s token", path, s.name)
		}
		*s.id = id
	}
	return t, nil
}

// Save writes the vocabulary to dir/vocab.json.
func (t *Tokenizer) Save(dir string) error {
	return fsutil.WriteJSON(filepath.Join(dir, VocabFile), t.IDs)
}

// Size returns the number of token ids the vocabulary needs (its largest
// id plus one).
func (t *Tokenizer) Size() int {
	n := 0
	for _, id := range t.IDs {
		n = max(n, id+1)
	}
	return n
}

// Words splits a prompt into the tokenizer's words: lower-cased, at
// spaces and punctuation.
func Words(prompt string) []string {
	return strings.FieldsFunc(strings.ToLower(prompt), func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
}

// Encode returns the token ids of prompts, each framed by the start and end
// tokens and padded to length, and their attention mask (1 for the start,
// word and end tokens, 0 for padding), row after row.
func (t *Tokenizer) Encode(prompts []string, length int) (ids []int64, mask []float32, err error) {
	for i, p := range prompts {
		words := Words(p)
		if len(words)+2 > length {
			return nil, nil, fmt.Errorf("prompt %d %q: %d words and the start and end tokens exceed the %d tokens of the text encoder", i, p, len(words), length)
		}
		row := []int64{int64(t.Start)}
		for _, w := range words {
			id, ok := t.IDs[w]
			if !ok {
				return nil, nil, fmt.Errorf("prompt %d %q: the word %q is not in the vocabulary (%s, %d words)", i, p, w, t.where(), len(t.IDs))
			}
			row = append(row, int64(id))
		}
		row = append(row, int64(t.End))
		for j := range length {
			if j < len(row) {
				ids = append(ids, row[j])
				mask = append(mask, 1)
			} else {
				ids = append(ids, int64(t.Pad))
				mask = append(mask, 0)
			}
		}
	}
	return ids, mask, nil
}

func (t *Tokenizer) where() string {
	if t.Path != "" {
		return t.Path
	}
	return "a vocabulary built in memory"
}

// Vocabulary returns the words of the vocabulary, by id.
func (t *Tokenizer) Vocabulary() []string {
	words := make([]string, 0, len(t.IDs))
	for w := range t.IDs {
		words = append(words, w)
	}
	slices.SortFunc(words, func(a, b string) int { return t.IDs[a] - t.IDs[b] })
	return words
}
