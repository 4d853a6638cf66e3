package unet

import "testing"

func mnistModel(t *testing.T, name string) *Model {
	t.Helper()
	c, err := ConfigFrom(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(c, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func find(t *testing.T, c Cost, name string) ModuleCost {
	t.Helper()
	for _, m := range c {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no module %q", name)
	return ModuleCost{}
}

// TestCostByHand checks modules of the reference MNIST U-Net against counts
// worked out by hand.
func TestCostByHand(t *testing.T) {
	c := mnistModel(t, "mnist").Cost(32, 32)
	// conv_in: 32×32 outputs × 32 channels × (1 input channel × 3×3).
	if m := find(t, c, "conv_in"); m.MACs != 32*32*32*1*9 || m.FLOPs != 2*m.MACs {
		t.Errorf("conv_in: %d MACs, %d FLOPs", m.MACs, m.FLOPs)
	}
	// The mid block's attention at 8×8 (64 tokens), 64 channels, 2 heads of
	// 32: Q·Kᵀ and P·V are 2·(2 heads·64·64·32) MACs; softmax 5 FLOPs on
	// each of 2·64·64 scores.
	if m := find(t, c, "mid_block.attentions.0.attention"); m.MACs != 2*2*64*64*32 || m.FLOPs != 2*m.MACs+5*2*64*64 {
		t.Errorf("attention: %d MACs, %d FLOPs", m.MACs, m.FLOPs)
	}
	if m := find(t, c, "mid_block.attentions.0.to_q"); m.MACs != 64*64*64 {
		t.Errorf("to_q: %d MACs", m.MACs)
	}
	// down_blocks.1.resnets.0: 32→64 channels at 16×16 with a 128-wide
	// time embedding: conv1 256·64·32·9, conv2 256·64·64·9, shortcut
	// 256·64·32, time projection 128·64.
	macs, _ := c.Prefix("down_blocks.1.resnets.0")
	if want := int64(256*64*32*9 + 256*64*64*9 + 256*64*32 + 128*64); macs != want {
		t.Errorf("resnet: %d MACs, want %d", macs, want)
	}
	_, flops := c.Prefix("down_blocks.1.resnets.0")
	// FLOPs: 2 per MAC, norms 12 per element (GroupNorm 8 + SiLU 4) on
	// 32·256 and 64·256 elements, SiLU of the embedding (4·128), the
	// embedding add and the residual (64·256 each).
	if want := 2*int64(256*64*32*9+256*64*64*9+256*64*32+128*64) + 12*(32*256+64*256) + 4*128 + 2*64*256; flops != want {
		t.Errorf("resnet: %d FLOPs, want %d", flops, want)
	}
}

// TestCostMatchesReference compares the MACs of convolutions, linear layers
// and attention products with the counts of PyTorch forward hooks on the
// reference implementation:
//
//	/usr/bin/python3 scripts/reference/count_macs.py configs/mnist.json 32
//	{"conv": 242286592, "linear": 4292608, "attention": 2097152}
//	/usr/bin/python3 scripts/reference/count_macs.py configs/mnist_attn32.json 32
//	{"conv": 242286592, "linear": 16875520, "attention": 203423744}
func TestCostMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		conv, linear, attentionMs int64
	}{{"mnist", 242286592, 4292608, 2097152}, {"mnist_attn32", 242286592, 16875520, 203423744}} {
		c := mnistModel(t, tc.name).Cost(32, 32)
		got := map[string]int64{}
		for _, m := range c {
			got[m.Kind] += m.MACs
		}
		if got["conv"] != tc.conv || got["linear"] != tc.linear || got["attention"] != tc.attentionMs {
			t.Errorf("%s: conv %d, linear %d, attention %d MACs; want %d, %d, %d", tc.name, got["conv"], got["linear"], got["attention"], tc.conv, tc.linear, tc.attentionMs)
		}
	}
}

// TestCostAtMatchesReference does the same for the UNet2DConditionModel
// fixtures, whose cross-attention depends on the number of text tokens:
//
//	/usr/bin/python3 scripts/reference/count_macs.py unet/testdata/cond-class/config.json 8 7
//	{"conv": 1488896, "linear": 773472, "attention": 423808}
//	/usr/bin/python3 scripts/reference/count_macs.py unet/testdata/cond-linear/config.json 8 5
//	{"conv": 967680, "linear": 636800, "attention": 445440}
//	/usr/bin/python3 scripts/reference/count_macs.py unet/testdata/cond-8ch/config.json 8 5
//	{"conv": 1043456, "linear": 529504, "attention": 254976}
//	/usr/bin/python3 scripts/reference/count_macs.py unet/testdata/cond-proj/config.json 8 4
//	{"conv": 944640, "linear": 336768, "attention": 40960}
func TestCostAtMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		tokens                    int
		conv, linear, attentionMs int64
	}{{"cond-class", 7, 1488896, 773472, 423808}, {"cond-linear", 5, 967680, 636800, 445440}, {"cond-8ch", 5, 1043456, 529504, 254976}, {"cond-proj", 4, 944640, 336768, 40960}} {
		m, err := Load("testdata/" + tc.name)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, mc := range m.CostAt(8, 8, tc.tokens) {
			got[mc.Kind] += mc.MACs
		}
		// The reference counts the class embedding's lookup as nothing and
		// the time embedding's linear layers as linear, as Cost does.
		if got["conv"] != tc.conv || got["linear"] != tc.linear || got["attention"] != tc.attentionMs {
			t.Errorf("%s: conv %d, linear %d, attention %d MACs; want %d, %d, %d", tc.name, got["conv"], got["linear"], got["attention"], tc.conv, tc.linear, tc.attentionMs)
		}
		// More tokens cost more; a UNet2DModel's cost does not depend on them.
		_, a := m.CostAt(8, 8, tc.tokens).Total()
		_, b := m.CostAt(8, 8, 2*tc.tokens).Total()
		if b <= a {
			t.Errorf("%s: %d FLOPs at %d tokens, %d at %d", tc.name, a, tc.tokens, b, 2*tc.tokens)
		}
	}
	m := mnistModel(t, "mnist")
	_, a := m.CostAt(32, 32, 0).Total()
	_, b := m.CostAt(32, 32, 77).Total()
	if a != b {
		t.Errorf("UNet2DModel cost depends on tokens: %d vs %d", a, b)
	}
}

func TestShellCore(t *testing.T) {
	m := mnistModel(t, "mnist")
	c := m.Cost(32, 32)
	shell, core := m.ShellCore(c)
	_, total := c.Total()
	if shell+core != total || shell <= 0 || core <= 0 {
		t.Fatalf("shell %d + core %d != total %d", shell, core, total)
	}
	_, d1 := c.Prefix("down_blocks.1")
	_, mid := c.Prefix("mid_block")
	_, u0 := c.Prefix("up_blocks.0")
	_, d2 := c.Prefix("down_blocks.2")
	_, u1 := c.Prefix("up_blocks.1")
	if core != d1+d2+mid+u0+u1 {
		t.Errorf("core %d is not down_blocks[1:] + mid + up_blocks[:-1] = %d", core, d1+d2+mid+u0+u1)
	}
}

func TestSamplingFLOPs(t *testing.T) {
	m := mnistModel(t, "mnist")
	c := m.Cost(32, 32)
	_, total := c.Total()
	shell, _ := m.ShellCore(c)
	if got := m.SamplingFLOPs(32, 32, 0, 20, 0, 0); got != 20*total {
		t.Errorf("plain run: %d, want %d", got, 20*total)
	}
	// Clockwork with 8 steps, 4 of them approximate with a 1 MFLOP adaptor.
	if got, want := m.SamplingFLOPs(32, 32, 0, 8, 4, 1e6), 4*total+4*(shell+1e6); got != want {
		t.Errorf("clockwork run: %d, want %d", got, want)
	}
}
