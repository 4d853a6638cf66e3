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
	cl := tinyConfig()
	cl.Clauses = 2
	if _, err := NewTrainer(t.TempDir(), tinyModel(t), shapes(t), cl); err == nil || !strings.Contains(err.Error(), "-clauses 2") {
		t.Errorf("-clauses without a text encoder: %v", err)
	}
	cl.Clauses = textenc.MaxClauses + 1
	if err := cl.Validate(); err == nil || !strings.Contains(err.Error(), "text clauses") {
		t.Errorf("-clauses %d: %v", cl.Clauses, err)
	}
	data.Captions[5] = "a purple shape"
	if _, err := NewTextTrainer(t.TempDir(), m, text, data, tinyConfig()); err == nil || !strings.Contains(err.Error(), "caption of image 5") {
		t.Errorf("unknown caption word: %v", err)
	}
}

// TestStartModelsInit: a fine-tuning run (TrainConfig.Init) starts from the
// model directory's U-Net and text encoder weights exactly, not from the
// seed's; it refuses a -config beside it, a directory that is no model and
// data the model cannot take.
func TestStartModelsInit(t *testing.T) {
	data := captioned(t)
	cfg := tinyConfig()
	cfg.Steps = 2
	m := tinyTextModel(t)
	text, err := NewTextFor(m.Config, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(t.TempDir(), "run")
	tr, err := NewTextTrainer(run, m, text, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(run, "model")
	saved, err := unet.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	savedText, err := textenc.LoadPrompter(textenc.ModelDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg
	c.Init, c.Seed = dir, 99
	m2, text2, err := StartModels("", data, c)
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, "U-Net from -init", saved, m2)
	for _, n := range savedText.Encoder.Params.Names() {
		a, b := savedText.Encoder.Params.Data(n), text2.Encoder.Params.Data(n)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("text encoder from -init %s[%d]: %g vs %g", n, i, b[i], a[i])
			}
		}
	}
	// And it trains on: a fine-tuning run records where it started.
	back := trainAndResume(t, m2, text2, data, c)
	if back.Config.Init != dir {
		t.Errorf("checkpoint's init %q, want %q", back.Config.Init, dir)
	}
	// -deepen starts a deeper model from the same one, and a run of it
	// resumes as the deeper model.
	c.Deepen = true
	m3, text3, err := StartModels("", data, c)
	if err != nil {
		t.Fatal(err)
	}
	if m3.Config.LayersPerBlock != saved.Config.LayersPerBlock+1 {
		t.Fatalf("-deepen: %d layers per block from %d", m3.Config.LayersPerBlock, saved.Config.LayersPerBlock)
	}
	back3 := trainAndResume(t, m3, text3, data, c)
	if !back3.Config.Deepen || back3.Model.Config.LayersPerBlock != m3.Config.LayersPerBlock {
		t.Errorf("resumed deepened run: deepen %v, %d layers per block", back3.Config.Deepen, back3.Model.Config.LayersPerBlock)
	}
	c.Deepen = false
	for _, tc := range []struct {
		config, init, want string
	}{
		{"mnist", dir, "-config mnist cannot change it"},
		{"", t.TempDir(), "-init: load model"},
	} {
		c := cfg
		c.Init = tc.init
		if _, _, err := StartModels(tc.config, data, c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("-config %q -init %q: %v, want %q", tc.config, tc.init, err, tc.want)
		}
	}
	c.Init, c.Deepen = "", true
	if _, _, err := StartModels("", data, c); err == nil || !strings.Contains(err.Error(), "-deepen") {
		t.Errorf("-deepen without -init: %v", err)
	}
	c.Guidance = &GuidanceDistillation{Teacher: dir}
	if _, _, err := StartModels("", data, c); err == nil || !strings.Contains(err.Error(), "-deepen cannot change it") {
		t.Errorf("-deepen with guidance distillation: %v", err)
	}
	c.Guidance = nil
	c.Init, c.Deepen = dir, false
	if _, _, err := StartModels("", gray(t), c); err == nil || !strings.Contains(err.Error(), "channels") {
		t.Errorf("gray data for an RGB model: %v", err)
	}
}

// trainAndResume runs c's steps on m in a new run directory and returns
// the run resumed from its last checkpoint.
func trainAndResume(t *testing.T, m *unet.Model, text *textenc.Prompter, data *datasets.Images, c TrainConfig) *Trainer {
	t.Helper()
	tr, err := NewTextTrainer(filepath.Join(t.TempDir(), "run"), m, text, data, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	back, err := ResumeTrainer(tr.Dir, data)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// gray returns one-channel 16×16 captioned images.
func gray(t *testing.T) *datasets.Images {
	d := &datasets.Images{Name: "gray", C: 1, H: 16, W: 16, U8: make([]uint8, 8*16*16)}
	for i := 0; i < 8; i++ {
		d.Captions = append(d.Captions, "a zero")
	}
	return d
}
