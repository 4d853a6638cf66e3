package unet

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/nn/nntest"
)

// tinyCondConfig is a two-level UNet2DConditionModel with cross-attention
// in the first down block, the mid block and the last up block, class
// labels beside the text: small enough for finite differences.
func tinyCondConfig() Config {
	c := DefaultConditionConfig()
	c.InChannels, c.OutChannels = 2, 1
	c.BlockOutChannels = []int{4, 8}
	c.DownBlockTypes = []string{"CrossAttnDownBlock2D", "DownBlock2D"}
	c.UpBlockTypes = []string{"UpBlock2D", "CrossAttnUpBlock2D"}
	c.LayersPerBlock = 1
	c.NormNumGroups = ptr(2)
	c.AttentionHeadDim = ptr(2) // heads
	c.CrossAttentionDim = 3
	c.NumClassEmbeds = ptr(3)
	c.TimeEmbeddingDim = ptr(8)
	return c
}

// perturbParams adds N(0, 0.2²) noise to every weight of m, so that no
// norm is the identity and no zero-initialised weight stays zero.
func perturbParams(m *Model, rng *rand.Rand) {
	for _, n := range m.Params.Names() {
		for i, v := range m.Params.Data(n) {
			m.Params.Data(n)[i] = v + 0.2*float32(rng.NormFloat64())
		}
	}
}

func randTensor(rng *rand.Rand, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// TestCondGradientFiniteDifferences checks the gradient of a whole
// UNet2DConditionModel (every parameter: the transformer blocks' norms,
// attentions and GEGLU included) against finite differences, with a mask
// that drops a token.
func TestCondGradientFiniteDifferences(t *testing.T) {
	for _, linear := range []bool{false, true} {
		c := tinyCondConfig()
		c.UseLinearProjection = linear
		m, err := New(c, 3)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		perturbParams(m, rng)
		g := nn.NewGraph(m.Params)
		var out *G.Node
		err = nn.Build(func() error {
			x := g.Input("x", 2, 2, 4, 4)
			tp := g.Input("tproj", 2, 4)
			oh := g.Input("onehot", 2, 3)
			text := &TextNodes{Tokens: g.Input("text", 2*3, 3), Bias: g.Input("bias", 2, 3)}
			ohv, _ := m.OneHot([]int64{2, 0})
			bias := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(nn.TextBias([]float32{1, 1, 0, 1, 1, 1}, 2, 3)))
			for _, b := range []struct {
				n *G.Node
				t *tensor.Dense
			}{{x, randTensor(rng, 2, 2, 4, 4)}, {tp, m.TimeProj([]float64{17, 630})}, {oh, ohv}, {text.Tokens, randTensor(rng, 6, 3)}, {text.Bias, bias}} {
				if err := nn.Let(b.n, b.t); err != nil {
					return err
				}
			}
			out = m.Graph(g, x, tp, oh, text)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		nntest.CheckGraph(t, g, out, nntest.Options{Seed: 5, Probes: 3})
	}
}

// TestCondConfigKeys checks that a saved UNet2DConditionModel config has
// exactly the keys diffusers' save_config writes (those of the fixture,
// written by the reference's save_config) and reads back to the same
// config, and that a UNet2DModel's has none of them.
func TestCondConfigKeys(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "cond-class", ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	keys := func(b []byte) []string {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var ks []string
		for k := range m {
			if k != "_diffusers_version" {
				ks = append(ks, k)
			}
		}
		slices.Sort(ks)
		return ks
	}
	c, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(out), keys(raw); !slices.Equal(got, want) {
		t.Errorf("saved keys %v\nwant %v", got, want)
	}
	back, err := ParseConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != string(out) {
		t.Errorf("config does not survive a round trip:\n%s\n%s", out, again)
	}
	if !back.Conditional() || *back.AttentionHeadDim != 4 || back.CrossAttentionDim != 6 || back.NumClasses() != 5 {
		t.Errorf("read back %+v", back)
	}
	plain, _ := json.Marshal(DefaultConfig())
	for _, k := range append(append([]string{}, condKeys...), "only_cross_attention", "resnet_out_scale_factor") {
		if strings.Contains(string(plain), `"`+k+`"`) {
			t.Errorf("UNet2DModel config has %s", k)
		}
	}
}

// TestCondConfigErrors checks that unsupported UNet2DConditionModel configs
// are errors naming the key.
func TestCondConfigErrors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "cond-linear", ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"only_cross_attention": false`, `"only_cross_attention": true`, "only_cross_attention true is not supported"},
		{`"attention_head_dim": 2`, `"attention_head_dim": [2, 2]`, "attention_head_dim [2, 2] per block"},
		{`"transformer_layers_per_block": 2`, `"transformer_layers_per_block": [2, 1]`, "transformer_layers_per_block [2, 1] per block"},
		{`"num_attention_heads": null`, `"num_attention_heads": 2`, "num_attention_heads 2 is not supported"},
		{`"addition_embed_type": null`, `"addition_embed_type": "text_time"`, `addition_embed_type "text_time"`},
		{`"conv_in_kernel": 3`, `"conv_in_kernel": 5`, "conv_in_kernel 5"},
		{`"cross_attention_dim": 12`, `"cross_attention_dim": 0`, "cross_attention_dim 0 must be positive"},
		{`"norm_num_groups": 4`, `"norm_num_groups": null`, "norm_num_groups null"},
		{`"attention_head_dim": 2`, `"attention_head_dim": 9`, "attention_head_dim 9 (heads) exceeds its 8 channels"},
		{`"mid_block_type": "UNetMidBlock2DCrossAttn"`, `"mid_block_type": "UNetMidBlock2D"`, `mid_block_type "UNetMidBlock2D" is not supported for UNet2DConditionModel`},
		{`"DownBlock2D"`, `"AttnDownBlock2D"`, `down block type "AttnDownBlock2D" is not supported for UNet2DConditionModel`},
		{`"use_linear_projection": true`, `"use_linear_projection": true, "add_attention": true`, `unknown UNet2DConditionModel config key "add_attention"`},
		{`"UNet2DConditionModel"`, `"UNet2DConditionModelX"`, `config is for "UNet2DConditionModelX"`},
	} {
		s := string(raw)
		if !strings.Contains(s, c.from) {
			t.Fatalf("fixture config has no %q", c.from)
		}
		_, err := ParseConfig([]byte(strings.Replace(s, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.to, err, c.want)
		}
	}
	// Keys that reach no supported block take any value.
	s := strings.Replace(string(raw), `"resnet_out_scale_factor": 1.0`, `"resnet_out_scale_factor": 2.0`, 1)
	if _, err := ParseConfig([]byte(s)); err != nil {
		t.Errorf("resnet_out_scale_factor 2.0: %v", err)
	}
	// A UNet2DModel config with a cross-attention key.
	if _, err := ParseConfig([]byte(`{"_class_name": "UNet2DModel", "cross_attention_dim": 8}`)); err == nil || !strings.Contains(err.Error(), `unknown UNet2DModel config key "cross_attention_dim"`) {
		t.Errorf("UNet2DModel with cross_attention_dim: %v", err)
	}
}

// TestCondForwardErrors checks the text a UNet2DConditionModel takes.
func TestCondForwardErrors(t *testing.T) {
	f := loadFixture(t, "cond-linear")
	n := f.sample.Shape()[0]
	rng := rand.New(rand.NewPCG(3, 4))
	nanText := randTensor(rng, n, 5, 12)
	nanText.Float32s()[7] = float32(math.NaN())
	for _, c := range []struct {
		name string
		cond Cond
		want string
	}{
		{"no text", Cond{}, "encoder_hidden_states (the text, N×tokens×12) are required"},
		{"wrong width", Cond{Text: randTensor(rng, n, 5, 11)}, "want (3, tokens, 12)"},
		{"wrong batch", Cond{Text: randTensor(rng, n+1, 5, 12)}, "a batch of 3"},
		{"two axes", Cond{Text: randTensor(rng, n*5, 12)}, "have shape"},
		{"NaN", Cond{Text: nanText}, "NaN"},
		{"short mask", Cond{Text: randTensor(rng, n, 5, 12), TextMask: make([]float32, 4)}, "encoder_attention_mask has 4 values for 3×5 tokens"},
		{"mask value", Cond{Text: randTensor(rng, n, 5, 12), TextMask: append(make([]float32, 14), 0.5)}, "value 0.5 (sample 2, token 4) is not 0 or 1"},
		{"labels", Cond{Text: randTensor(rng, n, 5, 12), Labels: []int64{0, 1, 2}}, "no class embeddings"},
	} {
		if _, err := f.model.Forward(f.sample, f.t, c.cond, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
	plain := loadFixture(t, "nomid")
	if _, err := plain.model.Forward(plain.sample, plain.t, Cond{Text: randTensor(rng, 2, 5, 12)}, nil); err == nil || !strings.Contains(err.Error(), "without cross-attention: text given") {
		t.Errorf("text for a UNet2DModel: %v", err)
	}
}

// TestCondTextMatters checks what the text does: another text changes the
// output, a masked token's value does not, and another token count works
// (a runner per length).
func TestCondTextMatters(t *testing.T) {
	f := loadFixture(t, "cond-class")
	m := f.model
	base, err := m.Forward(f.sample, f.t, f.cond, nil)
	if err != nil {
		t.Fatal(err)
	}
	masked := -1
	for i, v := range f.cond.TextMask {
		if v == 0 {
			masked = i
			break
		}
	}
	if masked < 0 {
		t.Fatal("fixture masks no token")
	}
	d := f.cond.Text.Shape()[2]
	text := f.cond.Text.Clone().(*tensor.Dense)
	for j := 0; j < d; j++ {
		text.Float32s()[masked*d+j] += 5
	}
	same, err := m.Forward(f.sample, f.t, Cond{Labels: f.cond.Labels, Text: text, TextMask: f.cond.TextMask}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The masked token gets a weight of e^−10000 ≈ 0.
	if diff := maxAbsDiff(t, "masked", same, npzio32(base)); diff > 1e-6 {
		t.Errorf("changing a masked token moved the output by %.3g", diff)
	}
	other, err := m.Forward(f.sample, f.t, Cond{Labels: f.cond.Labels, Text: text}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := maxAbsDiff(t, "unmasked", other, npzio32(base)); diff < 1e-4 {
		t.Errorf("changing an attended token moved the output by only %.3g", diff)
	}
	short := tensor.New(tensor.WithShape(3, 2, d), tensor.WithBacking(f.cond.Text.Float32s()[:3*2*d]))
	if _, err := m.Forward(f.sample, f.t, Cond{Labels: f.cond.Labels, Text: short}, nil); err != nil {
		t.Errorf("two tokens: %v", err)
	}
}

// TestCondSaveLoad checks that a UNet2DConditionModel survives Save and
// Load with its outputs unchanged.
func TestCondSaveLoad(t *testing.T) {
	f := loadFixture(t, "cond-8ch")
	dir := t.TempDir()
	if err := f.model.Save(dir); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Fingerprint() != f.model.Fingerprint() {
		t.Error("fingerprint changed by a save and load")
	}
	out, err := m2.Forward(f.sample, f.t, f.cond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, "output", out, f.want["output"]); d > parityTol {
		t.Errorf("reloaded output differs by %.3g", d)
	}
}

func npzio32(t *tensor.Dense) npzio.Array {
	return npzio.Float32(t.Float32s(), t.Shape().Clone()...)
}
