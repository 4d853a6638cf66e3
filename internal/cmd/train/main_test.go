package train

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/unet"
)

func TestTrainCommandRunsAndResumes(t *testing.T) {
	c, _ := unet.ConfigFrom("mnist_tiny")
	c.InChannels, c.OutChannels = 3, 3
	five := 5
	c.NumClassEmbeds = &five
	m, _ := unet.New(c, 0)
	cfgDir := filepath.Join(t.TempDir(), "cfg")
	if err := m.Save(cfgDir); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"-out", out, "-config", cfgDir, "-data", "shapes:64", "-steps", "2", "-batch", "4", "-sample-every", "2", "-checkpoint-every", "1", "-quiet"}
	var so, se bytes.Buffer
	if code := run(context.Background(), args, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	for _, f := range []string{"model/config.json", "model/" + unet.WeightsFile, "model/scheduler_config.json", "metrics.jsonl", "samples/step-00000002.png", "checkpoints/latest"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	// A second run into the same directory must be a resume.
	if code := run(context.Background(), args, &so, &se); code != 1 || !strings.Contains(se.String(), "already has a checkpoint") {
		t.Errorf("rerun over a checkpoint: exit %d, %s", code, se.String())
	}
	se.Reset()
	if code := run(context.Background(), []string{"-out", out, "-data", "shapes:64", "-resume", "-steps", "3", "-quiet"}, &so, &se); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, se.String())
	}
	if !strings.Contains(so.String(), "resuming") || !strings.Contains(so.String(), "done: 3 steps") {
		t.Errorf("resume output: %s", so.String())
	}
	// Ctrl-C: a cancelled context checkpoints and exits with 130.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	se.Reset()
	if code := run(ctx, []string{"-out", out, "-data", "shapes:64", "-resume", "-steps", "5", "-quiet"}, &so, &se); code != 130 || !strings.Contains(se.String(), "interrupted") {
		t.Errorf("interrupt: exit %d, %s", code, se.String())
	}
}

func TestTrainCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.npz")
	os.WriteFile(bad, []byte("not a zip"), 0o644)
	nan := filepath.Join(t.TempDir(), "nan.npz")
	npzio.Write(nan, []string{"images"}, map[string]npzio.Array{"images": npzio.Float32([]float32{0, float32(0) / float32(zero()), 0, 0}, 1, 1, 2, 2)})
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-steps", "ten"}, 2, "invalid value"},
		{[]string{"-data", "cifar"}, 1, "want mnist"},
		{[]string{"-data", "npz:" + bad}, 1, "not a readable .npz"},
		{[]string{"-data", "npz:" + nan + ":images:-"}, 1, "NaN"},
		{[]string{"-data", "shapes:10", "-config", "nonesuch"}, 1, "neither a file nor an embedded config"},
		{[]string{"-data", "shapes:100", "-lr", "-1", "-out", t.TempDir()}, 1, "learning rate"},
		{[]string{"-resume", "-out", t.TempDir(), "-data", "shapes:10"}, 1, "no checkpoint"},
		{[]string{"-resume", "-out", t.TempDir(), "-data", "shapes:10", "-lr", "0.1", "-batch", "4"}, 2, "-batch, -lr cannot change"},
		{[]string{"-data", "shapes:100", "-ema", "NaN", "-out", t.TempDir()}, 1, "ema decay"},
		{[]string{"-data", "shapes:100", "-clip", "NaN", "-out", t.TempDir()}, 1, "grad clip"},
	} {
		var so, se bytes.Buffer
		if code := run(context.Background(), append(c.args, "-quiet"), &so, &se); code != c.code || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se.String(), c.code, c.want)
		}
	}
}

func zero() int { return 0 }

// TestTrainInitKeepsSchedule: a run fine-tuned from -init keeps the
// model's prediction type unless -prediction changes it, and says so
// when it does.
func TestTrainInitKeepsSchedule(t *testing.T) {
	tmp := t.TempDir()
	c, _ := unet.ConfigFrom("mnist_tiny")
	c.InChannels, c.OutChannels = 3, 3
	m, _ := unet.New(c, 0)
	cfgDir := filepath.Join(tmp, "cfg")
	if err := m.Save(cfgDir); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(tmp, "v")
	var so, se bytes.Buffer
	if code := run(context.Background(), []string{"-out", first, "-config", cfgDir, "-data", "shapes:64", "-steps", "1", "-batch", "4", "-sample-every", "0", "-prediction", "v_prediction", "-quiet"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	prediction := func(dir string) string {
		s, err := diffusion.LoadScheduleConfig(filepath.Join(dir, "model"))
		if err != nil {
			t.Fatal(err)
		}
		return s.PredictionType
	}
	kept := filepath.Join(tmp, "kept")
	so.Reset()
	if code := run(context.Background(), []string{"-out", kept, "-init", filepath.Join(first, "model"), "-data", "shapes:64", "-steps", "1", "-batch", "4", "-sample-every", "0", "-quiet"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	if p := prediction(kept); p != diffusion.PredictV || strings.Contains(so.String(), "note:") {
		t.Fatalf("fine-tuned without -prediction: %s, output %q", p, so.String())
	}
	changed := filepath.Join(tmp, "changed")
	so.Reset()
	if code := run(context.Background(), []string{"-out", changed, "-init", filepath.Join(first, "model"), "-data", "shapes:64", "-steps", "1", "-batch", "4", "-sample-every", "0", "-prediction", "epsilon", "-quiet"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	if p := prediction(changed); p != diffusion.PredictEpsilon || !strings.Contains(so.String(), "trained with v_prediction") {
		t.Fatalf("fine-tuned with -prediction epsilon: %s, output %q", p, so.String())
	}
	// A model without its noise schedule: an error naming the file, no run.
	if err := os.Remove(filepath.Join(first, "model", diffusion.ScheduleFile)); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(tmp, "none")
	se.Reset()
	if code := run(context.Background(), []string{"-out", none, "-init", filepath.Join(first, "model"), "-data", "shapes:64", "-steps", "1", "-batch", "4", "-quiet"}, &so, &se); code == 0 || !strings.Contains(se.String(), diffusion.ScheduleFile) {
		t.Fatalf("-init without %s: exit %d, %q", diffusion.ScheduleFile, code, se.String())
	}
	if _, err := os.Stat(none); err == nil {
		t.Fatal("a run directory was written")
	}
}

// TestTrainInitInheritsDefaults: a run fine-tuned from -init carries the
// parent's sampling defaults into its model (chosen_by naming the parent)
// and leaves a model's own file alone; a malformed one fails the command
// with its name, the trained model kept.
func TestTrainInitInheritsDefaults(t *testing.T) {
	tmp, cfgDir := t.TempDir(), tinyConfigDir(t)
	args := func(out string, more ...string) []string {
		return append([]string{"-out", out, "-data", "shapes:64", "-steps", "1", "-batch", "4", "-sample-every", "0", "-quiet"}, more...)
	}
	var so, se bytes.Buffer
	parent := filepath.Join(tmp, "parent")
	if code := run(context.Background(), args(parent, "-config", cfgDir), &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	pm := filepath.Join(parent, "model")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(pm, diffusion.SamplingDefaultsFile), `{"guidance": 2.5, "steps": 12, "chosen_by": "a sweep"}`)
	write(filepath.Join(pm, edits.DefaultsFile), `{"text_scale": 2, "image_scale": 1.5, "steps": 20, "chain_steps": 6, "chain_strength": 0.67, "chosen_by": "another sweep"}`)
	child := filepath.Join(tmp, "child")
	so.Reset()
	if code := run(context.Background(), args(child, "-init", pm), &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	d, err := diffusion.LoadSamplingDefaults(filepath.Join(child, "model"))
	if err != nil || d == nil || d.Guidance != 2.5 || d.Steps != 12 || d.ChosenBy != "inherited from "+pm+", the model this one was trained from: a sweep" {
		t.Fatalf("inherited sampling defaults %+v, %v", d, err)
	}
	b, err := os.ReadFile(filepath.Join(child, "model", edits.DefaultsFile))
	var ed edits.Defaults
	if err != nil || json.Unmarshal(b, &ed) != nil || ed.ChainSteps != 6 || ed.ChainStrength != 0.67 || !strings.HasSuffix(ed.ChosenBy, ": another sweep") {
		t.Fatalf("inherited editor defaults %s, %v", b, err)
	}
	if !strings.Contains(so.String(), "holds the sampling defaults of "+pm) {
		t.Errorf("no note of the inherited defaults: %q", so.String())
	}
	// The model's own file stays as it is when the run goes on.
	own := `{"guidance": 4, "chosen_by": "mine"}`
	write(filepath.Join(child, "model", diffusion.SamplingDefaultsFile), own)
	if code := run(context.Background(), []string{"-out", child, "-resume", "-steps", "2", "-quiet"}, &so, &se); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, se.String())
	}
	if b, _ := os.ReadFile(filepath.Join(child, "model", diffusion.SamplingDefaultsFile)); string(b) != own {
		t.Errorf("the model's own defaults became %s", b)
	}
	// A malformed parent file: an error naming it, the model written.
	write(filepath.Join(pm, edits.DefaultsFile), `{"text_scale": 2, "bogus": 1}`)
	bad := filepath.Join(tmp, "bad")
	se.Reset()
	if code := run(context.Background(), args(bad, "-init", pm), &so, &se); code != 1 || !strings.Contains(se.String(), filepath.Join(pm, edits.DefaultsFile)) {
		t.Fatalf("malformed parent defaults: exit %d, %q", code, se.String())
	}
	if _, err := os.Stat(filepath.Join(bad, "model", "config.json")); err != nil {
		t.Errorf("the trained model was not kept: %v", err)
	}
}
