package distill_test

import (
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/internal/texttest"
)

// TestClockworkTextFLOPs: on a text-conditioned model a full Clockwork
// step counts what the plain model counts, cross-attention over the
// prompt's tokens included, and an adaptor step less.
func TestClockworkTextFLOPs(t *testing.T) {
	m, p := texttest.Model(t, 16, 8)
	cond, err := diffusion.PromptCond(p, []string{"a thick seven", "a two on the left"})
	if err != nil {
		t.Fatal(err)
	}
	cond.Pooled = nil
	cw, _, err := distill.Open(m, "identity", 1, "dpmpp2m", 4, "clock:2", false)
	if err != nil {
		t.Fatal(err)
	}
	plain := &diffusion.ModelDenoiser{Model: m}
	x := tensor.New(tensor.WithShape(2, 1, 32, 32), tensor.Of(tensor.Float32))
	if _, err := plain.Predict(x, 900, cond); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.Predict(x, 900, cond); err != nil {
		t.Fatal(err)
	}
	_, withoutText := m.Cost(32, 32).Total()
	if cw.FLOPs() != plain.FLOPs() || cw.FLOPs() <= 2*withoutText {
		t.Fatalf("a full Clockwork step counted %d FLOPs, the model %d (without the text's tokens %d)", cw.FLOPs(), plain.FLOPs(), 2*withoutText)
	}
	if cw.StepFLOPs(1, 32, 32) >= cw.StepFLOPs(0, 32, 32) {
		t.Fatalf("an adaptor step %d, a full step %d", cw.StepFLOPs(1, 32, 32), cw.StepFLOPs(0, 32, 32))
	}
}
