package unet

import (
	"errors"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/sysmem"
)

// TestMemoryEstimates: parameters are counted from shapes exactly as New
// allocates them; a width whose weights cannot fit is refused by New before
// allocating (it used to crash); sizes the down-sampling cannot halve are
// named.
func TestMemoryEstimates(t *testing.T) {
	for _, name := range []string{"mnist", "mnist_attn32", "unet4"} {
		c, err := ConfigFrom(name)
		if err != nil {
			t.Fatal(err)
		}
		n, err := c.ParamCount()
		m, _ := New(c, 0)
		if err != nil || n != float64(m.Params.Count()) {
			t.Errorf("%s: ParamCount %g, model has %d", name, n, m.Params.Count())
		}
		a, err := c.ActivationBytes(32, 32)
		if err != nil || a < 1e6 || a > 1e8 {
			t.Errorf("%s: activations of a sample %g bytes, %v", name, a, err)
		}
	}
	c, _ := ConfigFrom("mnist")
	c.BlockOutChannels = []int{1 << 30, 1 << 30, 1 << 30}
	if _, err := New(c, 0); !errors.Is(err, sysmem.ErrTooLarge) || !strings.Contains(err.Error(), "block_out_channels [1073741824 1073741824 1073741824]") {
		t.Errorf("absurd width: %v", err)
	}
	c, _ = ConfigFrom("mnist")
	if err := c.CheckSize(30, 32); err == nil || !strings.Contains(err.Error(), "images of 30×32 do not fit") || !strings.Contains(err.Error(), "divisible by 4") {
		t.Errorf("30×32: %v", err)
	}
	if err := c.CheckSize(28, 28); err != nil {
		t.Errorf("28×28: %v", err)
	}
}
