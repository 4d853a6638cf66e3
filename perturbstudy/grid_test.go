package perturbstudy

import (
	"slices"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/unet"
)

// TestNarrow: the command's lists replace parts of the grid, sorted and
// given once, and bad lists are errors naming the flag.
func TestNarrow(t *testing.T) {
	c, _ := unet.ConfigFrom("mnist_tiny")
	m, err := unet.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	infos, _ := TapInfos(m)
	cfg, err := QuickConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Narrow("mid_block,conv_in", "5,0,5", "0.7,0.3", "ddim", infos); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Taps, []string{"conv_in", "mid_block"}) || !slices.Equal(cfg.From, []int{0, 5}) ||
		!slices.Equal(cfg.A, []float64{0.3, 0.7}) || !slices.Equal(cfg.Samplers, []string{"ddim"}) || len(cfg.Work) != 2 {
		t.Errorf("narrowed grid %+v", cfg)
	}
	if err := cfg.Validate(m.Taps()); err != nil {
		t.Error(err)
	}
	if cfg.Study().Cells[0].Key != "reference/ddim" || len(cfg.Study().Cells) != 1+2*2*2 {
		t.Errorf("cells %v", cfg.Study().Cells)
	}
	for _, bad := range [][4]string{{"bogus", "", "", ""}, {"", "x", "", ""}, {"", "", "NaN", ""}} {
		c2, _ := QuickConfig(m)
		if err := c2.Narrow(bad[0], bad[1], bad[2], bad[3], infos); err == nil || !strings.Contains(err.Error(), []string{"-taps", "-k", "-a"}[slices.IndexFunc(bad[:], func(s string) bool { return s != "" })]) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
