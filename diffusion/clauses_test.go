package diffusion_test

import (
	"math"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/texttest"
	"github.com/clockwork-go/clockwork/textenc"
)

// TestTrainGraphClauses: a text encoder reading prompts clause by clause
// trains on what it encodes at inference: the training graph's loss on
// token ids equals the loss on the prompts' embeddings (Prompter.Embed)
// given as fixed text, for prompts of one and two clauses.
func TestTrainGraphClauses(t *testing.T) {
	m, _ := texttest.Model(t, 16, 8) // its U-Net; the encoder below also knows "and"
	tok, err := textenc.NewTokenizer(append(captions.Vocabulary(), "and"))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := textenc.New(textenc.ToyConfig(tok.Size(), 16, 8), 5)
	if err != nil {
		t.Fatal(err)
	}
	p, err := textenc.NewPrompter(enc, tok)
	if err != nil {
		t.Fatal(err)
	}
	p.Clauses = 2
	prompts := []string{"a thick seven and a small seven", "a two on the left", ""}
	n := len(prompts)
	ids, err := p.IDs(prompts)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != n*p.Tokens() || p.Tokens() != 16 {
		t.Fatalf("%d ids, %d tokens a prompt", len(ids), p.Tokens())
	}
	emb, err := p.Embed(prompts)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n*32*32)
	target := make([]float32, n*32*32)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.37))
		target[i] = float32(math.Cos(float64(i) * 0.11))
	}
	run := func(e *textenc.Model, in diffusion.TrainInput) float64 {
		tg, err := diffusion.NewTrainGraph(m, e, n, 32, 32, p.Tokens())
		if err != nil {
			t.Fatal(err)
		}
		in.X = tensor.New(tensor.WithShape(n, 1, 32, 32), tensor.WithBacking(append([]float32(nil), x...)))
		in.T = []float64{10, 500, 900}
		in.Target = tensor.New(tensor.WithShape(n, 1, 32, 32), tensor.WithBacking(append([]float32(nil), target...)))
		loss, err := tg.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		return loss
	}
	joint := run(enc, diffusion.TrainInput{IDs: ids})
	fixed := run(nil, diffusion.TrainInput{Cond: diffusion.Cond{Text: emb}})
	if math.Abs(joint-fixed) > 1e-5*math.Abs(fixed) {
		t.Fatalf("loss on token ids %g, on the embeddings %g", joint, fixed)
	}
	// A clause's tokens do not depend on the other clause's; encoded
	// whole, the second clause's see the first.
	second := func(k int, a, b string) []float32 {
		p.Clauses = k
		e, err := p.Embed([]string{a, b})
		if err != nil {
			t.Fatal(err)
		}
		v := e.Float32s()
		half := len(v) / 2
		if k == 2 {
			return append(v[8*16:16*16:16*16], v[half+8*16:half+16*16]...)
		}
		return append(v[4*16:6*16:6*16], v[half+4*16:half+6*16]...) // "a two"
	}
	if v := second(2, "a seven and a two", "a three and a two"); !slices.Equal(v[:len(v)/2], v[len(v)/2:]) {
		t.Fatal("clause by clause, the second clause's tokens depend on the first")
	}
	if v := second(1, "a seven and a two", "a three and a two"); slices.Equal(v[:len(v)/2], v[len(v)/2:]) {
		t.Fatal("the whole prompt: the second clause's tokens do not see the first")
	}
	if _, err := diffusion.NewTrainGraph(m, enc, n, 32, 32, 12); err == nil {
		t.Fatal("12 tokens of an 8-token encoder: no error")
	}
}
