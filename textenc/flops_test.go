package textenc

import "testing"

// TestFLOPs checks the encoder's count for the tiny fixture at 16 tokens
// against multiply-adds counted with PyTorch forward hooks on the reference
// (scripts/reference/cliptext.py: every nn.Linear's output elements times
// its inputs, and 2·L²·hidden per attention for Q·Kᵀ and P·V):
//
//	linear 517120, attention 81920 multiply-adds
//
// plus the counts of unet.Cost's conventions for the rest: per layer two
// LayerNorms (8 per element), the softmax (5 per score and head), quick
// GELU (5 per element) and two residual sums; the position embeddings'
// addition and the final LayerNorm.
func TestFLOPs(t *testing.T) {
	m, err := Load("testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	const l, d, f, heads, layers = 16, 32, 37, 4, 5
	macs := int64(517120 + 81920)
	rest := int64(layers*(2*8*l*d+5*heads*l*l+5*l*f+2*l*d) + l*d + 8*l*d)
	if got, want := m.FLOPs(l), 2*macs+rest; got != want {
		t.Errorf("FLOPs(16) = %d, want %d", got, want)
	}
	if m.FLOPs(32) <= 2*m.FLOPs(16) {
		t.Error("attention's cost does not grow with the square of the tokens")
	}
}
