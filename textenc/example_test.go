package textenc_test

import (
	"fmt"

	"github.com/clockwork-go/clockwork/textenc"
)

// A text encoder for a closed vocabulary turns prompts into the
// encoder_hidden_states a UNet2DConditionModel attends to; an unknown word
// is an error that names it.
func ExamplePrompter() {
	tok, _ := textenc.NewTokenizer([]string{"a", "thick", "seven", "on", "the", "left"})
	enc, _ := textenc.New(textenc.ToyConfig(tok.Size(), 32, 12), 1)
	p, _ := textenc.NewPrompter(enc, tok)
	hidden, _ := p.Embed([]string{"a thick seven on the left", ""})
	pooled, _ := p.Pooled([]string{"a seven"})
	fmt.Println(hidden.Shape(), pooled.Shape())
	_, err := p.Embed([]string{"a purple seven"})
	fmt.Println(err)
	// Output:
	// (2, 12, 32) (1, 32)
	// prompt 0 "a purple seven": the word "purple" is not in the vocabulary (a vocabulary built in memory, 9 words)
}
