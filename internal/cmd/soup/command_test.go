package soup

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/weightio"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// ingredient is a small model directory's content: its config and the two
// weights files a text-conditioned model's directory holds.
type ingredient struct {
	config   string
	unet, te map[string]npzio.Array
	extra    map[string]string // more files by path
}

func newIngredient(scale float32) ingredient {
	return ingredient{
		config: `{"layers": 2}`,
		unet: map[string]npzio.Array{
			"conv.weight": npzio.Float32([]float32{1 * scale, 2 * scale, 3 * scale, 4 * scale}, 2, 2),
			"conv.bias":   npzio.Float32([]float32{-scale, scale}, 2),
		},
		te:    map[string]npzio.Array{"emb": npzio.Float32([]float32{scale, 2 * scale, 0.5}, 3)},
		extra: map[string]string{"text_encoder/vocab.json": `["a","b"]`},
	}
}

func (in ingredient) write(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{"config.json": in.config, "README.md": "# " + dir}
	for k, v := range in.extra {
		files[k] = v
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, arrays := range map[string]map[string]npzio.Array{"diffusion_pytorch_model.safetensors": in.unet, "text_encoder/model.safetensors": in.te} {
		var order []string
		for k := range arrays {
			order = append(order, k)
		}
		if err := weightio.WriteSafetensors(filepath.Join(dir, name), order, arrays); err != nil {
			t.Fatal(err)
		}
	}
}

func runSoup(args ...string) (int, string, string) {
	var so, se bytes.Buffer
	code := run(args, &so, &se)
	return code, so.String(), se.String()
}

// TestSoupAverages: the weights files are the weighted means of the
// ingredients' by name, the other files copied, README.md left out, the
// sampling defaults taken from the first ingredient that has them, and
// soup.json records the ingredients with their weights and hashes.
func TestSoupAverages(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	newIngredient(1).write(t, a)
	ib := newIngredient(3)
	ib.extra["editor_defaults.json"] = `{"text_scale": 2}`
	ib.write(t, b)
	for _, c := range []struct {
		weights string
		wa      float64
	}{{"", 0.5}, {"0.25,0.75", 0.25}} {
		out := filepath.Join(root, "soup"+c.weights)
		args := []string{"-out", out, a, b}
		if c.weights != "" {
			args = append([]string{"-weights", c.weights}, args...)
		}
		if code, _, se := runSoup(args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, se)
		}
		scale := float32(c.wa*1 + (1-c.wa)*3)
		want := newIngredient(scale)
		want.te["emb"].F32[2] = 0.5
		for name, arrays := range map[string]map[string]npzio.Array{"diffusion_pytorch_model.safetensors": want.unet, "text_encoder/model.safetensors": want.te} {
			got, err := weightio.Read(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(arrays) {
				t.Fatalf("%s: %d arrays, want %d", name, len(got), len(arrays))
			}
			for k, w := range arrays {
				for i, v := range w.F32 {
					if g := got[k].F32[i]; math.Abs(float64(g-v)) > 1e-6 {
						t.Errorf("weights %s, %s %s[%d] = %v, want %v", c.weights, name, k, i, g, v)
					}
				}
			}
		}
		for _, f := range []string{"config.json", "text_encoder/vocab.json", "editor_defaults.json"} {
			src := a
			if f == "editor_defaults.json" {
				src = b // a has none
			}
			wantB, _ := os.ReadFile(filepath.Join(src, f))
			if gotB, err := os.ReadFile(filepath.Join(out, f)); err != nil || !bytes.Equal(gotB, wantB) {
				t.Errorf("%s: %q, %v; want %s's %q", f, gotB, err, src, wantB)
			}
		}
		if _, err := os.Stat(filepath.Join(out, "README.md")); err == nil {
			t.Error("README.md carried over")
		}
		var rec Record
		raw, err := os.ReadFile(filepath.Join(out, File))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		h, _ := hashFile(filepath.Join(a, "text_encoder/model.safetensors"))
		if len(rec.Ingredients) != 2 || rec.Ingredients[0].Weight != c.wa || rec.Ingredients[1].Dir != b ||
			rec.Ingredients[0].SHA256["text_encoder/model.safetensors"] != h || rec.Defaults != b || !strings.Contains(string(raw), `"provenance"`) {
			t.Errorf("soup.json: %s", raw)
		}
	}
}

// TestSoupRefuses: ingredients that are not one model's fine-tunes, bad
// weights and a used -out are errors naming them, and nothing is written.
func TestSoupRefuses(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "a")
	newIngredient(1).write(t, a)
	bad := func(name string, change func(*ingredient)) string {
		in := newIngredient(2)
		change(&in)
		d := filepath.Join(root, name)
		in.write(t, d)
		return d
	}
	config := bad("config", func(in *ingredient) { in.config = `{"layers": 3}` })
	missing := bad("missing", func(in *ingredient) { delete(in.unet, "conv.bias") })
	shape := bad("shape", func(in *ingredient) { in.unet["conv.weight"] = npzio.Float32([]float32{1, 2, 3, 4}, 4, 1) })
	nan := bad("nan", func(in *ingredient) { in.te["emb"].F32[1] = float32(math.NaN()) })
	layout := bad("layout", func(in *ingredient) { in.extra["text_encoder/clauses.json"] = "{}" })
	vocab := bad("vocab", func(in *ingredient) { in.extra["text_encoder/vocab.json"] = `["a","c"]` })
	bin := bad("bin", func(in *ingredient) { in.extra["pytorch_model.bin"] = "x" })
	used := filepath.Join(root, "used")
	if err := os.MkdirAll(used, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(used, "keep.txt"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-out", out, a}, 2, "at least two model directories"},
		{[]string{"-out", out, a, config}, 1, "config.json differs"},
		{[]string{"-out", out, a, vocab}, 1, "vocab.json differs"},
		{[]string{"-out", out, a, missing}, 1, `no weight "conv.bias"`},
		{[]string{"-out", out, a, shape}, 1, `"conv.weight" has shape [4 1]`},
		{[]string{"-out", out, a, nan}, 1, `weight "emb" holds NaN`},
		{[]string{"-out", out, a, layout}, 1, "share one layout"},
		{[]string{"-out", out, a, bin}, 1, "safetensors weights only"},
		{[]string{"-out", out, a, filepath.Join(root, "nothing")}, 1, "not a model directory"},
		{[]string{"-out", out, "-weights", "0.5", a, config}, 2, "1 weights for 2 directories"},
		{[]string{"-out", out, "-weights", "0.5,x", a, config}, 2, `"x" is not a number`},
		{[]string{"-out", out, "-weights", "0.6,0.6", a, a}, 1, "sum to 1.2"},
		{[]string{"-out", out, "-weights", "1.5,-0.5", a, a}, 1, "want a finite number ≥ 0"},
		{[]string{"-out", used, a, a}, 2, "not empty"},
	} {
		code, _, se := runSoup(c.args...)
		if code != c.code || !strings.Contains(se, c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se, c.code, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: %s written", c.args, out)
		}
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if b, err := os.ReadFile(filepath.Join(used, "keep.txt")); err != nil || string(b) != "kept" {
		t.Errorf("the used directory's file: %q, %v", b, err)
	}
}

// TestSoupOfOneEditor: the shipped editor souped with itself is the editor:
// its U-Net loads with the editor's weights fingerprint, its text encoder
// loads, and its sampling defaults and vocabulary are the editor's.
func TestSoupOfOneEditor(t *testing.T) {
	ed := filepath.Join("..", "..", "..", "models", "mnist_edit")
	out := filepath.Join(t.TempDir(), "soup")
	if code, _, se := runSoup("-out", out, ed, ed); code != 0 {
		t.Fatalf("exit %d: %s", code, se)
	}
	want, err := unet.Load(ed)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unet.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != want.Fingerprint() {
		t.Errorf("fingerprint %s, want the editor's %s", got.Fingerprint(), want.Fingerprint())
	}
	if _, err := textenc.Load(filepath.Join(out, "text_encoder")); err != nil {
		t.Errorf("text encoder: %v", err)
	}
	for _, f := range []string{"editor_defaults.json", "scheduler_config.json", "text_encoder/vocab.json"} {
		w, _ := os.ReadFile(filepath.Join(ed, f))
		if g, err := os.ReadFile(filepath.Join(out, f)); err != nil || !bytes.Equal(g, w) {
			t.Errorf("%s not carried over: %v", f, err)
		}
	}
}
