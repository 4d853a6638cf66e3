package train

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
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
