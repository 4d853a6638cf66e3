package diffusion

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// tinyTextModel is a two-level UNet2DConditionModel on 16×16 RGB images
// attending to 8-wide text.
func tinyTextModel(t *testing.T) *unet.Model {
	t.Helper()
	c := unet.DefaultConditionConfig()
	c.InChannels, c.OutChannels = 3, 3
	c.BlockOutChannels = []int{8, 16}
	c.DownBlockTypes = []string{"DownBlock2D", "CrossAttnDownBlock2D"}
	c.UpBlockTypes = []string{"CrossAttnUpBlock2D", "UpBlock2D"}
	c.LayersPerBlock = 1
	four, two := 4, 2
	c.NormNumGroups, c.AttentionHeadDim = &four, &two
	c.CrossAttentionDim = 8
	m, err := unet.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// captioned returns the shapes with a caption naming each one's label.
func captioned(t *testing.T) *datasets.Images {
	d := shapes(t)
	words := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	for _, l := range d.Labels {
		d.Captions = append(d.Captions, fmt.Sprintf("a %s", words[l%10]))
	}
	return d
}

// TestTextTrainerResumeExact: a UNet2DConditionModel trained jointly with
// its text encoder for 6 steps equals 3 steps, a resume and 3 more, bit for
// bit, the text encoder's weights and EMA included; the exported model
// directory holds the text encoder, whose weights moved.
func TestTextTrainerResumeExact(t *testing.T) {
	data := captioned(t)
	cfg := tinyConfig()
	mk := func(dir string, steps int) *Trainer {
		m := tinyTextModel(t)
		c := cfg
		c.Steps = steps
		text, err := NewTextFor(m.Config, data, c)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTextTrainer(dir, m, text, data, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	one := filepath.Join(t.TempDir(), "one")
	tr := mk(one, 6)
	two := filepath.Join(t.TempDir(), "two")
	mk(two, 3)
	tr3, err := ResumeTrainer(two, data)
	if err != nil {
		t.Fatal(err)
	}
	tr3.Config.Steps = 6
	if err := tr3.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameParams(t, "weights", tr.Model, tr3.Model)
	for _, n := range tr.Text.Encoder.Params.Names() {
		a, b := tr.Text.Encoder.Params.Data(n), tr3.Text.Encoder.Params.Data(n)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("text encoder %s[%d]: %g vs %g", n, i, a[i], b[i])
			}
		}
	}
	for _, n := range tr.params.Names() {
		a, b := tr.EMA.Shadow.Data(n), tr3.EMA.Shadow.Data(n)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("EMA %s[%d]: %g vs %g", n, i, a[i], b[i])
			}
		}
	}
	// The export: a U-Net directory with its text encoder beside it.
	m, err := unet.Load(filepath.Join(one, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Config.Conditional() {
		t.Error("exported model is not a UNet2DConditionModel")
	}
	p, err := textenc.LoadPrompter(textenc.ModelDir(filepath.Join(one, "model")))
	if err != nil {
		t.Fatal(err)
	}
	init, _ := NewTextFor(m.Config, data, cfg)
	moved := false
	for _, n := range p.Encoder.Params.Names() {
		a, b := p.Encoder.Params.Data(n), init.Encoder.Params.Data(n)
		for i := range a {
			moved = moved || a[i] != b[i]
		}
	}
	if !moved {
		t.Error("the text encoder did not train")
	}
	// The model samples from a prompt, and refuses an unknown word.
	cond, err := PromptCond(p, []string{data.Captions[0], data.Captions[1]})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewSchedule(DefaultScheduleConfig())
	if _, err := Sample(&ModelDenoiser{Model: m}, s, []int{2, 3, 16, 16}, Options{Sampler: "ddim", Steps: 2, Seed: 1, Cond: cond}); err != nil {
		t.Fatal(err)
	}
	if _, err := PromptCond(p, []string{"a purple seven"}); err == nil || !strings.Contains(err.Error(), `"purple" is not in the vocabulary`) {
		t.Errorf("unknown word: %v", err)
	}
	if _, err := Sample(&ModelDenoiser{Model: m}, s, []int{2, 3, 16, 16}, Options{Sampler: "ddim", Steps: 2, Seed: 1}); err == nil || !strings.Contains(err.Error(), "conditioned on text") {
		t.Errorf("sampling without a prompt: %v", err)
	}
}

// TestTextTrainerErrors: the text a run needs.
func TestTextTrainerErrors(t *testing.T) {
	m := tinyTextModel(t)
	if _, err := NewTrainer(t.TempDir(), m, captioned(t), tinyConfig()); err == nil || !strings.Contains(err.Error(), "needs a text encoder") {
		t.Errorf("no text encoder: %v", err)
	}
	if _, err := NewTextFor(m.Config, shapes(t), tinyConfig()); err == nil || !strings.Contains(err.Error(), "no captions") {
		t.Errorf("no captions: %v", err)
	}
	data := captioned(t)
	text, _ := NewTextFor(m.Config, data, tinyConfig())
	c := m.Config
	c.CrossAttentionDim = 6
	m2, _ := unet.New(c, 1)
	if _, err := NewTextTrainer(t.TempDir(), m2, text, data, tinyConfig()); err == nil || !strings.Contains(err.Error(), "hidden_size 8 is not the U-Net's cross_attention_dim 6") {
		t.Errorf("widths: %v", err)
	}
	data.Captions[5] = "a purple shape"
	if _, err := NewTextTrainer(t.TempDir(), m, text, data, tinyConfig()); err == nil || !strings.Contains(err.Error(), "caption of image 5") {
		t.Errorf("unknown caption word: %v", err)
	}
}
