package unet

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/x448/float16"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

// TestPretrainedDirectories: save_pretrained-format directories of the
// classcond (UNet2DModel) and cond-linear (UNet2DConditionModel) fixtures,
// written on PyTorch's side (scripts/reference/make_pretrained_fixtures.py):
// the fp32 safetensors and the torch.save .bin load the .npz twin's
// weights bit for bit and so compute its output exactly; the fp16 and bf16
// safetensors load the twin's weights rounded to nearest-even in that
// precision, bit for bit, and stay within the fixtures' tolerance of the
// reference output.
func TestPretrainedDirectories(t *testing.T) {
	for _, name := range []string{"classcond", "cond-linear"} {
		f := loadFixture(t, name)
		twin, err := f.model.Forward(f.sample, f.t, f.cond, nil)
		if err != nil {
			t.Fatal(err)
		}
		twinOut := npzio.Float32(twin.Data().([]float32), twin.Shape()...)
		for _, variant := range []string{"fp32", "bin", "fp16", "bf16"} {
			t.Run(name+"/"+variant, func(t *testing.T) {
				m, err := Load(filepath.Join("testdata", "pretrained", name, variant))
				if err != nil {
					t.Fatal(err)
				}
				round := func(v float32) float32 { return v }
				switch variant {
				case "fp16":
					round = func(v float32) float32 { return float16.Fromfloat32(v).Float32() }
				case "bf16":
					round = bf16
				}
				for _, n := range f.model.Params.Names() {
					a, b := f.model.Params.Data(n), m.Params.Data(n)
					for i := range a {
						if math.Float32bits(round(a[i])) != math.Float32bits(b[i]) {
							t.Fatalf("%s[%d] = %g, want %g (%g rounded)", n, i, b[i], round(a[i]), a[i])
						}
					}
				}
				out, err := m.Forward(f.sample, f.t, f.cond, nil)
				if err != nil {
					t.Fatal(err)
				}
				d := maxAbsDiff(t, "output", out, twinOut)
				t.Logf("%s %s: max |output − npz twin's| = %.3g", name, variant, d)
				if (variant == "fp32" || variant == "bin") && d != 0 {
					t.Errorf("output differs from the npz twin's by %g", d)
				}
				if d == 0 && (variant == "fp16" || variant == "bf16") {
					t.Errorf("half-precision weights gave the float32 output exactly: were they rounded?")
				}
			})
		}
	}
}

// bf16 rounds v to bfloat16 (nearest, ties to even), as torch does.
func bf16(v float32) float32 {
	b := math.Float32bits(v)
	b += 0x7fff + (b>>16)&1
	return math.Float32frombits(b &^ 0xffff)
}

// TestPipelineAndSave: a diffusers pipeline directory (model_index.json,
// unet/) loads its U-Net; Save writes what diffusers' from_pretrained reads
// (config.json and diffusion_pytorch_model.safetensors), replacing an .npz
// left there, and reloads bit for bit.
func TestPipelineAndSave(t *testing.T) {
	f := loadFixture(t, "cond-linear")
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, PipelineIndex), []byte(`{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if Dir(root) != filepath.Join(root, PipelineUNet) || Dir(f.dir) != f.dir {
		t.Fatalf("Dir: %s, %s", Dir(root), Dir(f.dir))
	}
	if _, err := Load(root); err == nil || !strings.Contains(err.Error(), filepath.Join(root, PipelineUNet)) {
		t.Errorf("pipeline without unet/: %v", err)
	}
	unetDir := filepath.Join(root, PipelineUNet)
	if err := os.MkdirAll(unetDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.model.SaveWeights(filepath.Join(unetDir, NPZFile)); err != nil {
		t.Fatal(err)
	}
	if err := f.model.Save(unetDir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(unetDir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != ConfigFile+" "+WeightsFile {
		t.Errorf("saved directory holds %v, want %s and %s only", names, ConfigFile, WeightsFile)
	}
	m, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(f.sample.Shape()...), tensor.WithBacking(f.sample.Data()))
	a, err := f.model.Forward(x, f.t, f.cond, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Forward(x, f.t, f.cond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, "reloaded", b, npzio.Float32(a.Data().([]float32), a.Shape()...)); d != 0 {
		t.Errorf("the pipeline's U-Net computes another output (%g)", d)
	}
}
