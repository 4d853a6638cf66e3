// Package texttest builds small untrained text-conditioned models for the
// tests of the packages and commands that take them.
package texttest

import (
	"path/filepath"
	"testing"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// Model returns an untrained UNet2DConditionModel of the shape of the
// embedded mnist_text config at widths 8, 16, 16 attending to text of
// cross_attention_dim 16, and a text encoder of width wide (16 to match)
// over the captions' vocabulary with prompts of tokens tokens.
func Model(t testing.TB, width, tokens int) (*unet.Model, *textenc.Prompter) {
	t.Helper()
	c, err := unet.ConfigFrom("mnist_text")
	if err != nil {
		t.Fatal(err)
	}
	c.BlockOutChannels = []int{8, 16, 16}
	four := 4
	c.NormNumGroups = &four
	c.CrossAttentionDim = 16
	m, err := unet.New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := textenc.NewTokenizer(captions.Vocabulary())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := textenc.New(textenc.ToyConfig(tok.Size(), width, tokens), 5)
	if err != nil {
		t.Fatal(err)
	}
	p, err := textenc.NewPrompter(enc, tok)
	if err != nil {
		t.Fatal(err)
	}
	return m, p
}

// Dir writes Model's model as a model directory (with the default noise
// schedule and the text encoder in text_encoder/) and returns it.
func Dir(t testing.TB, width, tokens int) string {
	t.Helper()
	m, p := Model(t, width, tokens)
	dir := filepath.Join(t.TempDir(), "model")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := diffusion.SaveScheduleConfig(dir, diffusion.DefaultScheduleConfig()); err != nil {
		t.Fatal(err)
	}
	if err := p.Save(textenc.ModelDir(dir)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// EditorDir writes an untrained editor as a model directory: Model's U-Net
// widened to take a source image (unet.Model.WidenInput), its text encoder
// extended to the edit instructions' words, and returns it.
func EditorDir(t testing.TB) string {
	t.Helper()
	m, p := Model(t, 16, 16)
	w, err := m.WidenInput(2)
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Extend(edits.Vocabulary(), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "editor")
	if err := w.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := diffusion.SaveScheduleConfig(dir, diffusion.DefaultScheduleConfig()); err != nil {
		t.Fatal(err)
	}
	if err := q.Save(textenc.ModelDir(dir)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Pairs returns n edit pairs drawn from MNIST's test digits with seed 1
// and the training split's mix of instructions: sources and instructions
// for the tests of an editor.
func Pairs(t testing.TB, n int) *edits.Set {
	t.Helper()
	src, err := datasets.MNIST("test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	set, err := edits.Generate(src, n, 1, edits.TrainMix)
	if err != nil {
		t.Fatal(err)
	}
	return set
}
