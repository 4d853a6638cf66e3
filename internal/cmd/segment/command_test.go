package segment

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

func run(args ...string) (int, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

// tiny are the flags of a small, fast network.
var tiny = []string{"-depth", "2", "-width", "4", "-batch", "2", "-quiet", "-n", "6"}

func TestSegmentTrainPredictEval(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "run")
	code, msg := run(append([]string{"-out", dir, "-steps", "3", "-checkpoint-every", "2"}, tiny...)...)
	if code != 0 || !strings.Contains(msg, "mean IoU") {
		t.Fatalf("train: %d %s", code, msg)
	}
	for _, f := range []string{"model/config.json", "model/model.safetensors", "eval.json", "metrics.jsonl", "provenance.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run has no %s", f)
		}
	}
	// A second run into the same directory needs -resume.
	if code, msg := run(append([]string{"-out", dir, "-steps", "5"}, tiny...)...); code == 0 || !strings.Contains(msg, "-resume") {
		t.Errorf("a second run: %d %s", code, msg)
	}
	if code, msg := run(append([]string{"-out", dir, "-steps", "5", "-resume"}, tiny...)...); code != 0 || !strings.Contains(msg, "resuming at step 3") {
		t.Errorf("resume: %d %s", code, msg)
	}
	model := filepath.Join(dir, "model")
	if code, msg := run("-eval", "-model", model, "-n", "4"); code != 0 || !strings.Contains(msg, "touching pairs separated") {
		t.Errorf("eval: %d %s", code, msg)
	}

	// Held-out 128×128 scenes, predicted in one piece and by tiles.
	sc := filepath.Join(tmp, "scenes.npz")
	if code, msg := run("-scenes", "2", "-size", "128", "-output", sc); code != 0 {
		t.Fatalf("scenes: %d %s", code, msg)
	}
	a, err := npzio.Read(sc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a["images"].Shape, []int{2, 1, 128, 128}) || !slices.Equal(a["masks"].Shape, []int{2, 128, 128}) {
		t.Fatalf("scenes: %v %v", a["images"].Shape, a["masks"].Shape)
	}
	whole, tiled := filepath.Join(tmp, "whole.npz"), filepath.Join(tmp, "tiled.npz")
	if code, msg := run("-predict", "-model", model, "-input", sc, "-output", whole); code != 0 || !strings.Contains(msg, "mean IoU") {
		t.Fatalf("predict: %d %s", code, msg)
	}
	if code, msg := run("-predict", "-model", model, "-input", sc, "-output", tiled, "-tile", "104"); code != 0 || !strings.Contains(msg, "104 input and 64 output") {
		t.Fatalf("predict tiled: %d %s", code, msg)
	}
	w, _ := npzio.Read(whole)
	ti, _ := npzio.Read(tiled)
	if !slices.Equal(w["masks"].I64, ti["masks"].I64) || !slices.Equal(w["masks"].Shape, []int{2, 128, 128}) {
		t.Error("tiled and one-piece masks differ")
	}
	if _, err := os.Stat(filepath.Join(tmp, "tiled.png")); err != nil {
		t.Error("no overlay beside the masks")
	}

	// Bad input: clear errors, nothing written.
	three := filepath.Join(tmp, "rgb.npz")
	npzio.Write(three, []string{"images"}, map[string]npzio.Array{"images": npzio.Float32(make([]float32, 3*40*40), 1, 3, 40, 40)})
	badMask := filepath.Join(tmp, "badmask.npz")
	m := make([]int64, 40*40)
	m[5] = 11
	npzio.Write(badMask, []string{"images", "masks"}, map[string]npzio.Array{"images": npzio.Float32(make([]float32, 40*40), 1, 1, 40, 40), "masks": npzio.Int64(m, 1, 40, 40)})
	out := filepath.Join(tmp, "never.npz")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-predict", "-model", model, "-input", sc, "-output", out, "-tile", "102"}, "smallest size that works is"},
		{[]string{"-predict", "-model", model, "-input", three, "-output", out}, "3 channels"},
		{[]string{"-predict", "-model", model, "-input", badMask, "-output", out}, "class id 11"},
		{[]string{"-predict", "-model", filepath.Join(tmp, "nothing"), "-input", sc, "-output", out}, "nothing"},
		{[]string{"-out", filepath.Join(tmp, "bad"), "-variant", "dense"}, "variant"},
	} {
		code, msg := run(c.args...)
		if code == 0 || !strings.Contains(msg, c.want) {
			t.Errorf("%v: %d %q; want an error naming %q", c.args, code, msg, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v wrote %s", c.args, out)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "bad")); err == nil {
		t.Error("a refused run left its directory")
	}
}

func TestSegmentStudy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "study")
	code, msg := run(append([]string{"-study", dir, "-steps", "2"}, tiny...)...)
	if code != 0 || !strings.Contains(msg, "Weight map:") {
		t.Fatalf("study: %d %s", code, msg)
	}
	for _, f := range []string{"table.md", "study.json", "curves.png", "iou.png", "overlays.png", "unet-no-weight-map/eval.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("study has no %s", f)
		}
	}
	// Run again, it only re-evaluates its complete runs.
	// Evaluated again on fewer scenes than the overlays show.
	code, msg = run(append(append([]string{"-study", dir, "-steps", "2"}, tiny...), "-n", "2")...)
	if code != 0 || strings.Contains(msg, "training unet") {
		t.Errorf("second study: %d %s", code, msg)
	}
}
