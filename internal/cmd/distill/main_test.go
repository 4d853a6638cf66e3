package distill

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/internal/modeltest"
	"github.com/clockwork-go/clockwork/internal/texttest"
	"github.com/clockwork-go/clockwork/unet"
)

func runCmd(args ...string) (int, string, string) {
	var so, se bytes.Buffer
	code := run(context.Background(), args, &so, &se)
	return code, so.String(), se.String()
}

var tiny = []string{"-steps", "4", "-width", "8", "-epochs", "2", "-trajectories", "4", "-validation", "4", "-batch", "4", "-lr", "1e-3", "-quiet"}

func TestDistillCommand(t *testing.T) {
	model := modeltest.Dir(t, 1)
	code, so, se := runCmd(append([]string{"-model", model}, tiny...)...)
	if code != 0 || !strings.Contains(so, "validation loss") {
		t.Fatalf("exit %d: %s %s", code, so, se)
	}
	dir := filepath.Join(filepath.Dir(model), "adaptors", "resnet-dpmpp2m4-clock2-w8")
	m, err := distill.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Epochs != 2 || m.Adaptor.Kind != "resnet" || m.Sampler != "dpmpp2m" || m.Steps != 4 {
		t.Errorf("manifest %+v", m)
	}
	// Extend the run by one epoch.
	if code, so, se := runCmd("-model", model, "-out", dir, "-resume", "-epochs", "3", "-quiet"); code != 0 || !strings.Contains(so, "resuming") {
		t.Fatalf("resume: exit %d: %s %s", code, so, se)
	}
	if m, _ := distill.ReadManifest(dir); m.Epochs != 3 {
		t.Errorf("after the resume: %d epochs", m.Epochs)
	}
	other := modeltest.Dir(t, 2)
	studyDir := t.TempDir()
	os.WriteFile(filepath.Join(studyDir, "study.json"), []byte(`{"study": "perturb", "config": {}, "config_hash": "ab", "cells": 1}`), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{append([]string{"-model", model, "-at", "1,2"}, tiny...), 2, "first step must be full"},
		{append([]string{"-model", model, "-at", "2,5"}, tiny...), 2, "outside the 4 steps"},
		{append([]string{"-model", model, "-depth", "3"}, tiny...), 1, "depths 1 to 2"},
		{append([]string{"-model", model, "-clock", "2", "-at", "2"}, tiny...), 2, "not both"},
		{append([]string{"-model", model, "-adaptor", "identity"}, tiny...), 2, "nothing to train"},
		{append([]string{"-model", model, "-strength", "0.5"}, tiny...), 2, "-strength 0.5 starts each trajectory from an edit's source: -model " + model + " is not an instruction-guided editor"},
		{append([]string{"-model", model, "-strength", "0.1"}, tiny...), 2, "keeps no step"},
		{append([]string{"-model", model, "-out", dir}, tiny...), 1, "already holds a distillation"},
		{[]string{"-model", other, "-out", dir, "-resume"}, 1, "this teacher is"},
		{[]string{"-model", model, "-out", dir, "-resume", "-lr", "1"}, 2, "cannot change"},
		// issue 26, case 4: no sentinel value, no flag that does nothing
		{append([]string{"-model", model, "-clock", "0"}, tiny...), 2, "clock 0 must be at least 1"},
		{append([]string{"-model", model, "-step-size"}, tiny...), 2, "go together"},
		{append([]string{"-model", model, "-step-counts", "4,8"}, tiny...), 2, "go together"},
		// issue 26, case 6: another command's directory
		{append([]string{"-model", model, "-out", studyDir}, tiny...), 1, "holds a perturb study directory; distill writes an adaptor directory (distill)"},
		{append([]string{"-model", model, "-out", model}, tiny...), 1, "holds a model directory"},
	} {
		code, _, se := runCmd(c.args...)
		if code != c.code || !strings.Contains(se, c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se, c.code, c.want)
		}
	}
	// An editor's adaptor for edits from the source, in the directory its
	// settings name.
	editor := texttest.EditorDir(t)
	if code, so, se := runCmd(append([]string{"-model", editor, "-strength", "0.5"}, tiny...)...); code != 0 || !strings.Contains(so, "at the last 2 of 4 dpmpp2m steps from the source (strength 0.5)") {
		t.Fatalf("from the source: exit %d: %s %s", code, so, se)
	}
	if m, err := distill.ReadManifest(filepath.Join(filepath.Dir(editor), "adaptors", "resnet-dpmpp2m4-clock2-s0.5-w8")); err != nil || m.Strength != 0.5 || m.Clock != "clock:2" {
		t.Errorf("from the source: manifest %+v, %v", m, err)
	}
	// A forward-noised distillation resumes with its MNIST images.
	noised := filepath.Join(t.TempDir(), "noised")
	if code, so, se := runCmd(append([]string{"-model", model, "-out", noised, "-data", "noised"}, tiny...)...); code != 0 {
		t.Fatalf("noised: exit %d: %s %s", code, so, se)
	}
	if code, so, se := runCmd("-model", model, "-out", noised, "-resume", "-epochs", "3", "-quiet"); code != 0 || !strings.Contains(so, "resuming") {
		t.Fatalf("noised resume: exit %d: %s %s", code, so, se)
	}
	if left, _ := os.ReadDir(studyDir); len(left) != 1 {
		t.Errorf("a refused distillation wrote into the study directory: %v", left)
	}
	// An unknown key in adaptor.json is an error naming it (issue 26, case 4).
	mpath := filepath.Join(dir, distill.ManifestFile)
	good, _ := os.ReadFile(mpath)
	os.WriteFile(mpath, []byte(strings.Replace(string(good), "{", `{"colour": "red",`, 1)), 0o644)
	if _, err := distill.ReadManifest(dir); err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) || !strings.Contains(err.Error(), mpath) {
		t.Errorf("unknown key in adaptor.json: %v", err)
	}
	os.WriteFile(mpath, good, 0o644)
	// A corrupt adaptor.npz is reported by name when the adaptor is loaded.
	os.WriteFile(filepath.Join(dir, distill.WeightsFile), []byte("garbage"), 0o644)
	teacher, err := unet.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := distill.Open(teacher, dir, 1, "dpmpp2m", 4, "", false); err == nil || !strings.Contains(err.Error(), distill.WeightsFile) {
		t.Errorf("corrupt adaptor.npz: %v", err)
	}
}
