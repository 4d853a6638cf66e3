package sample

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/texttest"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// TestSamplePipelineDirectory: a diffusers pipeline directory
// (model_index.json; unet/, scheduler/, text_encoder/ and tokenizer/ with
// the vocabulary) samples exactly as the flat model directory it was laid
// out from.
func TestSamplePipelineDirectory(t *testing.T) {
	flat := texttest.Dir(t, 16, 12)
	root := filepath.Join(t.TempDir(), "pipeline")
	move := map[string]string{
		unet.ConfigFile:                     filepath.Join(unet.PipelineUNet, unet.ConfigFile),
		unet.WeightsFile:                    filepath.Join(unet.PipelineUNet, unet.WeightsFile),
		diffusion.ScheduleFile:              filepath.Join(diffusion.PipelineScheduler, diffusion.ScheduleFile),
		"text_encoder/config.json":          "text_encoder/config.json",
		"text_encoder/model.safetensors":    "text_encoder/model.safetensors",
		"text_encoder/" + textenc.VocabFile: filepath.Join(textenc.TokenizerDir, textenc.VocabFile),
	}
	for from, to := range move {
		b, err := os.ReadFile(filepath.Join(flat, from))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(root, to)), 0o755)
		if err := os.WriteFile(filepath.Join(root, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, unet.PipelineIndex), []byte(`{"_class_name": "StableDiffusionPipeline"}`), 0o644)
	var outs [2]npzio.Array
	for i, dir := range []string{flat, root} {
		out := filepath.Join(t.TempDir(), "s.npz")
		var so, se bytes.Buffer
		if code := run([]string{"-model", dir, "-prompt", "a thick 7 on the left", "-n", "2", "-steps", "2", "-guidance", "2", "-out", out}, &so, &se); code != 0 {
			t.Fatalf("-model %s: exit %d: %s", dir, code, se.String())
		}
		a, err := npzio.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = a["samples"]
	}
	for i, v := range outs[0].F32 {
		if outs[1].F32[i] != v {
			t.Fatalf("pipeline sample %d differs: %g vs %g", i, outs[1].F32[i], v)
		}
	}
}
