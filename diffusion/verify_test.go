package diffusion

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/train"
)

// editState rewrites one field of a checkpoint's state.json.
func editState(t *testing.T, ck, key string, v any) {
	t.Helper()
	path := filepath.Join(ck, "state.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	m[key] = v
	b, _ = json.Marshal(m)
	os.WriteFile(path, b, 0o644)
}

// TestResumeRejectsBadState: a checkpoint with a field out of range or
// inconsistent with the others, or with an array missing or partial, is an
// error that names the file and the problem (today's loader panicked on an
// out-of-range position; the others were resumed without a word).
func TestResumeRejectsBadState(t *testing.T) {
	data := shapes(t)
	dir, _ := threeSteps(t, data)
	ck := filepath.Join(dir, train.CheckpointDir, train.StepName(3))
	backup := t.TempDir()
	os.CopyFS(backup, os.DirFS(ck))
	restore := func() {
		os.RemoveAll(ck)
		os.CopyFS(ck, os.DirFS(backup))
	}
	for _, c := range []struct {
		name string
		edit func()
		want []string
	}{
		{"position out of range", func() { editState(t, ck, "pos", 1e9) }, []string{"state.json", "data position 1000000000"}},
		{"negative position", func() { editState(t, ck, "pos", -8) }, []string{"state.json", "data position -8"}},
		{"negative epoch", func() { editState(t, ck, "epoch", -1) }, []string{"state.json", "epoch -1"}},
		{"position off the step", func() { editState(t, ck, "pos", 4) }, []string{"state.json", "disagrees with step 3"}},
		{"step off the directory", func() {
			editState(t, ck, "step", 5)
			editState(t, ck, "adam_steps", 5)
			editState(t, ck, "ema_updates", 5)
			editState(t, ck, "pos", 20)
		}, []string{"state.json", "step 5 disagrees with the checkpoint's directory name step-00000003"}},
		{"optimiser counter", func() { editState(t, ck, "adam_steps", 2) }, []string{"state.json", "adam_steps 2"}},
		{"config", func() { editState(t, ck, "config", map[string]any{"steps": 0}) }, []string{"state.json", "training config"}},
		{"optimiser state partial", func() {
			p := filepath.Join(ck, "adam.npz")
			a, _ := npzio.Read(p)
			delete(a, "m/conv_in.weight")
			delete(a, "v/conv_in.weight")
			var order []string
			for k := range a {
				order = append(order, k)
			}
			npzio.Write(p, order, a)
		}, []string{"adam.npz", `no moments for parameter "conv_in.weight"`}},
		{"optimiser state missing", func() { os.Remove(filepath.Join(ck, "adam.npz")) }, []string{"adam.npz"}},
		{"EMA array missing", func() {
			p := filepath.Join(ck, "ema.npz")
			a, _ := npzio.Read(p)
			delete(a, "conv_out.bias")
			var order []string
			for k := range a {
				order = append(order, k)
			}
			npzio.Write(p, order, a)
		}, []string{"ema.npz", `missing weight "conv_out.bias"`}},
	} {
		restore()
		c.edit()
		tr, err := ResumeTrainer(dir, data)
		if err == nil {
			t.Errorf("%s: resumed at step %d", c.name, tr.Step)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
	restore()
	if _, err := ResumeTrainer(dir, data); err != nil {
		t.Errorf("restored checkpoint: %v", err)
	}
}

// TestResumeOtherData: a run records its data; a resume with other images
// is an error naming both, unless forced.
func TestResumeOtherData(t *testing.T) {
	data := shapes(t)
	dir, _ := threeSteps(t, data)
	other, _ := datasets.Shapes(40, 16, 4)
	other.Source = "shapes:other"
	if _, err := ResumeTrainer(dir, other); err == nil || !strings.Contains(err.Error(), "was trained on") || !strings.Contains(err.Error(), "shapes:other") {
		t.Errorf("resume on other data: %v", err)
	}
	tr, err := Resume(dir, other, ResumeOptions{From: -1, ForceData: true})
	if err != nil || len(tr.Notes) != 1 || !strings.Contains(tr.Notes[0], "on other data") {
		t.Fatalf("forced: %v %v", tr, err)
	}
	tr.Config.Steps = 4
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestResumeFromEarlier: -from continues from an earlier checkpoint, and
// the later ones go when the run starts; the continuation equals a run
// resumed there in the first place.
func TestResumeFromEarlier(t *testing.T) {
	data := shapes(t)
	dir := filepath.Join(t.TempDir(), "run")
	c := tinyConfig() // checkpoints at 3 and 6
	tr, err := NewTrainer(dir, tinyModel(t), data, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The latest, step 6, is damaged: the error points at step 3.
	six := filepath.Join(dir, train.CheckpointDir, train.StepName(6))
	editState(t, six, "pos", -8)
	_, err = ResumeTrainer(dir, data)
	if err == nil || !strings.Contains(err.Error(), "-resume -from 3") || !strings.Contains(err.Error(), "state.json") {
		t.Fatalf("damaged latest: %v", err)
	}
	tr, err = Resume(dir, data, ResumeOptions{From: 3})
	if err != nil || tr.Step != 3 {
		t.Fatalf("from 3: %v", err)
	}
	var notes []string
	tr.Note = func(s string) { notes = append(notes, s) }
	tr.Config.Steps = 4
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], train.StepName(6)) {
		t.Errorf("notes %q", notes)
	}
	if steps, _ := train.Steps(dir); len(steps) != 2 || steps[0] != 3 || steps[1] != 4 {
		t.Errorf("checkpoints after continuing from 3 to 4: %v", steps)
	}
}

// TestTrainSizeMessages: images that the U-Net's down-sampling cannot halve
// are refused with their size (today: an internal shape-inference error),
// and a batch that cannot fit in memory with the estimate.
func TestTrainSizeMessages(t *testing.T) {
	odd, _ := datasets.Shapes(40, 15, 3)
	if _, err := NewTrainer(t.TempDir(), tinyModel(t), odd, tinyConfig()); err == nil || !strings.Contains(err.Error(), "images of 15×15 do not fit") || strings.Contains(err.Error(), "infer") {
		t.Errorf("15×15 images: %v", err)
	}
	big := tinyConfig()
	big.BatchSize = 1 << 40
	if _, err := NewTrainer(t.TempDir(), tinyModel(t), shapes(t), big); !errors.Is(err, sysmem.ErrTooLarge) || !strings.Contains(err.Error(), "batch size 1099511627776") {
		t.Errorf("absurd batch: %v", err)
	}
}

// TestScheduleConfigStrict: scheduler_config.json is required, and a key
// it does not know is an error, as in config.json; diffusers' sampler
// settings are accepted; sizes beyond memory are refused up front.
func TestScheduleConfigStrict(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadScheduleConfig(dir); !errors.Is(err, ErrNoScheduleConfig) || !strings.Contains(err.Error(), dir) {
		t.Errorf("missing file: %v", err)
	}
	write := func(s string) { os.WriteFile(filepath.Join(dir, ScheduleFile), []byte(s), 0o644) }
	write(`{"prediction_type": "v_prediction", "_class_name": "DDPMScheduler", "clip_sample": true, "steps_offset": 1, "trained_betas": null}`)
	if c, err := LoadScheduleConfig(dir); err != nil || c.PredictionType != PredictV || c.NumTrainTimesteps != 1000 {
		t.Errorf("diffusers file: %+v, %v", c, err)
	}
	for body, want := range map[string]string{
		`{"prediction_typ": "v_prediction"}`:           `unknown key "prediction_typ"`,
		`{"trained_betas": [0.1, 0.2]}`:                "trained_betas is not supported",
		`{"num_train_timesteps": 1152921504606846976}`: "num_train_timesteps 1152921504606846976 needs about",
		`[1, 2]`:                         "not a JSON object",
		`{"beta_schedule": "quadratic"}`: "beta_schedule",
	} {
		write(body)
		if _, err := LoadScheduleConfig(dir); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ScheduleFile) {
			t.Errorf("%s: %v, want an error mentioning %q", body, err, want)
		}
	}
}

// TestSampleRangeAndClip: DPM-Solver++ and Euler return samples that can
// leave [−1, 1], as Sample's documentation says; DDIM's stay inside; and
// ClipImages makes images of them.
func TestSampleRangeAndClip(t *testing.T) {
	m := tinyModel(t)
	s, _ := NewSchedule(DefaultScheduleConfig())
	labels := []int64{0, 1}
	span := func(sampler string) (lo, hi float32) {
		x, err := Sample(&ModelDenoiser{Model: m}, s, []int{2, 3, 16, 16}, Options{Sampler: sampler, Steps: 4, Cond: Labels(labels)})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range ClipImages(append([]float32(nil), x.Data().([]float32)...)) {
			if v < -1 || v > 1 {
				t.Fatalf("%s: clipped value %g", sampler, v)
			}
		}
		for _, v := range x.Data().([]float32) {
			lo, hi = min(lo, v), max(hi, v)
		}
		return lo, hi
	}
	if lo, hi := span("ddim"); lo < -1 || hi > 1 {
		t.Errorf("ddim samples span [%g, %g]", lo, hi)
	}
	lo, hi := span("dpmpp2m")
	lo2, hi2 := span("euler")
	if lo >= -1 && hi <= 1 && lo2 >= -1 && hi2 <= 1 {
		t.Errorf("an untrained model's dpmpp2m [%g, %g] and euler [%g, %g] samples stay in [−1, 1]: this test shows nothing", lo, hi, lo2, hi2)
	}
}
