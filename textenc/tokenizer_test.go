package textenc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTokenizer: prompts become start, words, end and padding with their
// mask; an unknown word and a prompt too long for the encoder are errors
// naming them; a vocabulary round-trips through vocab.json.
func TestTokenizer(t *testing.T) {
	tk, err := NewTokenizer([]string{"a", "thick", "seven", "on", "the", "left"})
	if err != nil {
		t.Fatal(err)
	}
	ids, mask, err := tk.Encode([]string{"A thick seven, on the left.", ""}, 9)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{0, 3, 4, 5, 6, 7, 8, 1, 2, 0, 1, 2, 2, 2, 2, 2, 2, 2}
	if !slices.Equal(ids, want) || !slices.Equal(mask, []float32{1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("ids %v mask %v", ids, mask)
	}
	if _, _, err := tk.Encode([]string{"a thin seven"}, 9); err == nil || !strings.Contains(err.Error(), `the word "thin" is not in the vocabulary`) {
		t.Errorf("unknown word: %v", err)
	}
	if _, _, err := tk.Encode([]string{"a thick seven on the left"}, 7); err == nil || !strings.Contains(err.Error(), "exceed the 7 tokens") {
		t.Errorf("too long: %v", err)
	}
	dir := t.TempDir()
	if err := tk.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Vocabulary(), tk.Vocabulary()) || back.Size() != 9 {
		t.Errorf("round trip: %v", back.Vocabulary())
	}
	if _, _, err := back.Encode([]string{"seven zebras"}, 9); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, VocabFile)) {
		t.Errorf("the error does not name the vocabulary's file: %v", err)
	}
	for _, bad := range []string{`{"a": 1}`, `[1, 2]`, `{"<|startoftext|>": 0, "<|endoftext|>": 0, "<|pad|>": 2}`} {
		os.WriteFile(filepath.Join(dir, VocabFile), []byte(bad), 0o644)
		if _, err := LoadTokenizer(dir); err == nil {
			t.Errorf("vocabulary %s accepted", bad)
		}
	}
	if _, err := NewTokenizer([]string{"Seven"}); err == nil {
		t.Error("an upper-case word accepted")
	}
}

// TestConfigErrors: a config with an unknown key or an unsupported value is
// an error naming it.
func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"hidden_size": 30, "num_attention_heads": 4}`, "does not split"},
		{`{"hidden_act": "relu"}`, "hidden_act"},
		{`{"vocab_sise": 10}`, `unknown text encoder config key "vocab_sise"`},
		{`{"model_type": "clip_vision_model"}`, "model_type"},
		{`{"vocab_size": 10}`, "outside the vocabulary"},
	} {
		if _, err := ParseConfig([]byte(c.json)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error mentioning %q", c.json, err, c.want)
		}
	}
	if c, err := ParseConfig([]byte(`{"_name_or_path": "x", "transformers_version": "4.45.0"}`)); err != nil || c.HiddenSize != 512 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}

// TestLoadTokenizerRefusesBPE: a CLIP tokenizer directory (vocab.json with
// merges.txt beside it) is refused by name rather than read as words.
func TestLoadTokenizerRefusesBPE(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, VocabFile), []byte(`{"<|startoftext|>": 49406, "<|endoftext|>": 49407, "a</w>": 320}`), 0o644)
	os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\ni n\n"), 0o644)
	if _, err := LoadTokenizer(dir); err == nil || !strings.Contains(err.Error(), "byte-pair-encoding") {
		t.Errorf("BPE tokenizer: %v", err)
	}
}
