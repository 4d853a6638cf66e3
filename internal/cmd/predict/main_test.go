package predict

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

func TestPredictParity(t *testing.T) {
	for _, name := range []string{"attn", "classcond", "layers2", "nomid", "cond-linear", "cond-class", "cond-8ch", "cond-proj"} {
		dir := filepath.Join("..", "..", "..", "unet", "testdata", name)
		out := filepath.Join(t.TempDir(), "out.npz")
		var so, se bytes.Buffer
		if code := run([]string{"-model", dir, "-input", filepath.Join(dir, "input.npz"), "-output", out}, &so, &se); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, se.String())
		}
		got, err := npzio.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := npzio.Read(filepath.Join(dir, "output.npz"))
		if err != nil {
			t.Fatal(err)
		}
		var d float64
		for i, v := range got["output"].F32 {
			d = math.Max(d, math.Abs(float64(v)-float64(want["output"].F32[i])))
		}
		t.Logf("%s: max abs diff %.3g", name, d)
		if d > 1e-4 || len(got["output"].F32) != len(want["output"].F32) {
			t.Errorf("%s: output differs from the reference by %.3g", name, d)
		}
	}
}

// TestPredictTextEncoder: on a text encoder directory predict reads
// input_ids (and the attention mask) and writes transformers'
// CLIPTextModel outputs, equal to the reference's.
func TestPredictTextEncoder(t *testing.T) {
	for _, name := range []string{"tiny", "gelu-eos", "added-tokens"} {
		dir := filepath.Join("..", "..", "..", "textenc", "testdata", name)
		out := filepath.Join(t.TempDir(), "out.npz")
		var so, se bytes.Buffer
		if code := run([]string{"-model", dir, "-input", filepath.Join(dir, "input.npz"), "-output", out}, &so, &se); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, se.String())
		}
		got, err := npzio.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := npzio.Read(filepath.Join(dir, "output.npz"))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"last_hidden_state", "pooler_output"} {
			var d float64
			for i, v := range got[k].F32 {
				d = math.Max(d, math.Abs(float64(v)-float64(want[k].F32[i])))
			}
			if d > 1e-4 || len(got[k].F32) != len(want[k].F32) {
				t.Errorf("%s: %s differs from the reference by %.3g", name, k, d)
			}
		}
	}
}

func TestPredictErrors(t *testing.T) {
	fix := filepath.Join("..", "..", "..", "unet", "testdata")
	tmp := t.TempDir()
	noLabels := filepath.Join(tmp, "nolabels.npz")
	in, _ := npzio.Read(filepath.Join(fix, "classcond", "input.npz"))
	npzio.Write(noLabels, []string{"sample", "timestep"}, map[string]npzio.Array{"sample": in["sample"], "timestep": in["timestep"]})
	u8 := filepath.Join(tmp, "u8.npz")
	npzio.Write(u8, []string{"sample", "timestep", "class_labels"}, map[string]npzio.Array{"sample": in["sample"],
		"timestep": {Shape: in["timestep"].Shape, U8: make([]uint8, len(in["timestep"].I64))}, "class_labels": in["class_labels"]})
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 2, "required"},
		{[]string{"-model", filepath.Join(tmp, "none"), "-input", "x", "-output", "y"}, 1, "config.json"},
		{[]string{"-model", filepath.Join(fix, "classcond"), "-input", filepath.Join(tmp, "missing.npz"), "-output", filepath.Join(tmp, "o.npz")}, 1, "missing.npz"},
		{[]string{"-model", filepath.Join(fix, "classcond"), "-input", noLabels, "-output", filepath.Join(tmp, "o.npz")}, 1, "class labels are required"},
		{[]string{"-model", filepath.Join(fix, "classcond"), "-input", u8, "-output", filepath.Join(tmp, "o.npz")}, 1, "is uint8"},
		{[]string{"-model", filepath.Join(fix, "attn"), "-input", filepath.Join(fix, "classcond", "input.npz"), "-output", filepath.Join(tmp, "o.npz")}, 1, "want (N,3,H,W)"},
	}
	for _, c := range cases {
		var so, se bytes.Buffer
		code := run(c.args, &so, &se)
		if code != c.code || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, se.String(), c.code, c.want)
		}
	}
}

// TestPredictFloat64Timesteps: NumPy's default dtype for the timesteps
// gives the same output as int64.
func TestPredictFloat64Timesteps(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "unet", "testdata", "classcond")
	in, err := npzio.Read(filepath.Join(dir, "input.npz"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []float64
	for _, v := range in["timestep"].I64 {
		ts = append(ts, float64(v))
	}
	in["timestep"] = npzio.Array{Shape: in["timestep"].Shape, F64: ts}
	f64 := filepath.Join(t.TempDir(), "f64.npz")
	if err := npzio.Write(f64, []string{"sample", "timestep", "class_labels"}, in); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.npz")
	var so, se bytes.Buffer
	if code := run([]string{"-model", dir, "-input", f64, "-output", out}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	got, _ := npzio.Read(out)
	want, _ := npzio.Read(filepath.Join(dir, "output.npz"))
	for i, v := range got["output"].F32 {
		if math.Abs(float64(v-want["output"].F32[i])) > 1e-4 {
			t.Fatalf("output[%d] = %g, want %g", i, v, want["output"].F32[i])
		}
	}
}
