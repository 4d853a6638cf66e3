package distill

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/nn/nntest"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// TestAdaptorGradients: every trainable adaptor's parameter gradients, with
// the teacher frozen, match finite differences.
func TestAdaptorGradients(t *testing.T) {
	m := tinyTeacher(t)
	for _, spec := range []AdaptorConfig{
		{Kind: "scaleshift", Depth: 1, Steps: 4},
		{Kind: "resnet", Depth: 1, Steps: 4, Width: 8},
		{Kind: "resnet", Depth: 2, Steps: 4, Width: 8, NoPrev: true},
		{Kind: "unet-light", Depth: 1, Steps: 4, Width: 4},
		{Kind: "resnet", Depth: 1, Steps: 4, Width: 8, StepSize: true},
	} {
		t.Run(fmt.Sprintf("%s-d%d-noprev%t-dt%t", spec.Kind, spec.Depth, spec.NoPrev, spec.StepSize), func(t *testing.T) {
			na, err := New(m, spec, 2)
			if err != nil {
				t.Fatal(err)
			}
			a := na.(Trainable)
			rng := rand.New(rand.NewPCG(3, 4))
			for _, n := range a.Params().Names() {
				if strings.Contains(n, "conv_out") || strings.Contains(n, "scale") || strings.Contains(n, "shift") {
					for i, d := 0, a.Params().Data(n); i < len(d); i++ {
						d[i] = float32(0.3 * rng.NormFloat64())
					}
				}
			}
			g := nn.NewGraph(a.Params()).Freeze(m.Params)
			var out *G.Node
			if err := nn.Build(func() error {
				var in []*G.Node
				for i, s := range a.Shapes(2) {
					node := g.Input("in"+string(rune('0'+i)), s...)
					size := tensor.Shape(s).TotalSize()
					d := make([]float32, size)
					for j := range d {
						d[j] = float32(rng.NormFloat64())
					}
					if i == oneHotInput(a) {
						// a one-hot input
						clear(d)
						for r := 0; r < 2; r++ {
							d[r*s[1]+r+1] = 1
						}
					}
					nn.Let(node, tensor.New(tensor.WithShape(s...), tensor.WithBacking(d)))
					in = append(in, node)
				}
				var err error
				out, err = a.Graph(g, in)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			names, _ := g.UsedParams()
			for _, n := range names {
				if !strings.HasPrefix(n, "adaptor.") {
					t.Fatalf("teacher parameter %s is trainable", n)
				}
			}
			nntest.CheckGraph(t, g, out, nntest.Options{Seed: 5, Probes: 6})
		})
	}
}

// oneHotInput returns the index of a's one-hot input (the step of a
// scale-shift adaptor, the class of a conditional one), or −1.
func oneHotInput(a Trainable) int {
	switch c := a.(type) {
	case *ScaleShift:
		return 2
	case *ResNet:
		return c.oneHot()
	case *UNetLight:
		return c.oneHot()
	}
	return -1
}

func (a *convAdaptor) oneHot() int {
	if a.Classes == 0 {
		return -1
	}
	if a.NeedsPrev() {
		return 3
	}
	return 2
}

func tinyConfig() Config {
	c := DefaultConfig()
	c.Adaptor = AdaptorConfig{Kind: "resnet", Width: 8, Depth: 1, Steps: 4}
	c.Clock = "clock:2"
	c.Epochs, c.Trajectories, c.Validation, c.Batch, c.LR = 2, 6, 4, 4, 1e-3
	return c
}

// TestDistillResumeExact: a distillation of 2 epochs equals one of 1 epoch,
// a resume, and 1 more, bit for bit; the adaptor directory then loads for
// its teacher and operating point only.
func TestDistillResumeExact(t *testing.T) {
	m := tinyTeacher(t)
	s := schedule(t)
	one := filepath.Join(t.TempDir(), "one")
	d, err := NewDistiller(one, m, "teacher", s, tinyConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.UnrollBatch = 4
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	two := filepath.Join(t.TempDir(), "two")
	c := tinyConfig()
	c.Epochs = 1
	d2, _ := NewDistiller(two, m, "teacher", s, c, nil)
	d2.UnrollBatch = 3 // results do not depend on the sampling batch
	if err := d2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	d3, err := ResumeDistiller(two, m, "teacher", s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d3.Epoch != 1 {
		t.Fatalf("resumed at epoch %d", d3.Epoch)
	}
	d3.Config.Epochs = 2
	if err := d3.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range d.Adaptor.Params().Names() {
		if !slices.Equal(d.Adaptor.Params().Data(n), d3.Adaptor.Params().Data(n)) {
			t.Fatalf("%s differs after a resume", n)
		}
	}
	if d.last.ValLoss != d3.last.ValLoss {
		t.Errorf("validation loss %g vs %g", d.last.ValLoss, d3.last.ValLoss)
	}
	a, man, err := Load(one, m, "dpmpp2m", 4, false)
	if err != nil {
		t.Fatal(err)
	}
	if man.Epochs != 2 || man.Clock != "clock:2" || !slices.Equal(a.(Trainable).Params().Data("adaptor.conv_out.weight"), d.Adaptor.Params().Data("adaptor.conv_out.weight")) {
		t.Errorf("loaded manifest %+v", man)
	}
	if _, _, err := Load(one, m, "ddim", 4, false); err == nil || !strings.Contains(err.Error(), "dpmpp2m at 4 steps, not ddim at 4 steps") {
		t.Errorf("other sampler: %v", err)
	}
	if _, _, err := Load(one, m, "dpmpp2m", 8, false); err == nil || !strings.Contains(err.Error(), "not dpmpp2m at 8 steps") {
		t.Errorf("other step count: %v", err)
	}
	if _, _, err := LoadFrom(one, m, "dpmpp2m", 4, 0.5, false); err == nil || !strings.Contains(err.Error(), "distilled for 4 steps from noise, not the last 2 of 4 steps from the source (strength 0.5)") {
		t.Errorf("a run from the source: %v", err)
	}
	if _, _, err := LoadFrom(one, m, "dpmpp2m", 4, 1, false); err != nil {
		t.Errorf("strength 1 is a run from noise: %v", err)
	}
	other, _ := unet.New(m.Config, 99)
	if _, _, err := Load(one, other, "dpmpp2m", 4, false); err == nil || !strings.Contains(err.Error(), "distilled for teacher "+m.Fingerprint()) {
		t.Errorf("other teacher: %v", err)
	}
	if _, _, err := Load(one, other, "dpmpp2m", 4, true); err != nil {
		t.Errorf("-force: %v", err)
	}
	// A corrupt adaptor.npz is an error naming it.
	os.WriteFile(filepath.Join(one, WeightsFile), []byte("not a zip"), 0o644)
	if _, _, err := Load(one, m, "dpmpp2m", 4, false); err == nil || !strings.Contains(err.Error(), WeightsFile) {
		t.Errorf("corrupt weights: %v", err)
	}
	// metrics.jsonl has a line per epoch with both losses.
	b, _ := os.ReadFile(filepath.Join(two, train.MetricsFile))
	if strings.Count(string(b), "\n") != 2 || !strings.Contains(string(b), "identity_val_loss") {
		t.Errorf("metrics: %s", b)
	}
}

// TestDistillConfigErrors: bad settings are refused before anything runs.
func TestDistillConfigErrors(t *testing.T) {
	m := tinyTeacher(t)
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Clock = "1,2" }, "first step must be full"},
		{func(c *Config) { c.Clock = "2,9" }, "outside the 4 steps"},
		{func(c *Config) { c.Adaptor.Kind = "identity" }, "nothing to train"},
		{func(c *Config) { c.Adaptor.Kind = "mlp" }, "unknown adaptor"},
		{func(c *Config) { c.Adaptor.Depth = 3 }, "depths 1 to 2"},
		{func(c *Config) { c.Data = "real" }, "unrolled or noised"},
		{func(c *Config) { c.Batch = 1000 }, "batch 1000"},
		{func(c *Config) { c.Clock = "clock:1" }, "no adaptor step"},
		{func(c *Config) { c.Adaptor.Kind = "scaleshift"; c.Adaptor.NoPrev = true }, "needs the previous step"},
		{func(c *Config) { c.Strength = 1.5 }, "strength 1.5"},
		{func(c *Config) { c.Strength = math.NaN() }, "strength NaN"},
		{func(c *Config) { c.Strength = 0.2 }, "keeps no step"},
		{func(c *Config) { c.Strength = 0.5; c.Adaptor.Kind = "scaleshift" }, "per step of a whole run"},
		{func(c *Config) { c.Strength = 0.5; c.Data = "noised" }, "not noised data"},
		{func(c *Config) {
			c.Strength, c.StepCounts, c.Adaptor.StepSize, c.Clock = 0.5, []int{4, 8}, true, "2,4"
		}, "with step counts"},
	} {
		cfg := tinyConfig()
		c.edit(&cfg)
		if _, err := NewDistiller(t.TempDir(), m, "t", schedule(t), cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error mentioning %q", cfg, err, c.want)
		}
	}
	// A U-Net with two levels has no core at depth 2.
	small := unet.DefaultConfig()
	small.InChannels, small.OutChannels = 1, 1
	small.BlockOutChannels = []int{8, 16}
	small.DownBlockTypes = []string{"DownBlock2D", "DownBlock2D"}
	small.UpBlockTypes = []string{"UpBlock2D", "UpBlock2D"}
	four := 4
	small.NormNumGroups = &four
	sm, err := unet.New(small, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(sm, AdaptorConfig{Kind: "resnet", Depth: 2, Steps: 4}, 0); err == nil || !strings.Contains(err.Error(), "depths 1 to 1") {
		t.Errorf("depth 2 on a two-level U-Net: %v", err)
	}
}

// TestSharedSource: distillers that share their trajectories (run side by
// side) end exactly where each ends alone.
func TestSharedSource(t *testing.T) {
	m := tinyTeacher(t)
	s := schedule(t)
	kinds := []AdaptorConfig{{Kind: "resnet", Width: 8, Depth: 1, Steps: 4}, {Kind: "scaleshift", Depth: 1, Steps: 4}, {Kind: "unet-light", Width: 4, Depth: 1, Steps: 4}}
	alone := map[string]*Distiller{}
	for _, k := range kinds {
		c := tinyConfig()
		c.Adaptor = k
		d, err := NewDistiller(filepath.Join(t.TempDir(), k.Kind), m, "t", s, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		alone[k.Kind] = d
	}
	src := NewSource(len(kinds))
	errs := make(chan error, len(kinds))
	shared := map[string]*Distiller{}
	for _, k := range kinds {
		c := tinyConfig()
		c.Adaptor = k
		d, err := NewDistiller(filepath.Join(t.TempDir(), k.Kind), m, "t", s, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.Source = src
		shared[k.Kind] = d
		go func() { errs <- d.Run(context.Background()) }()
	}
	for range kinds {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for kind, d := range shared {
		for _, n := range d.Adaptor.Params().Names() {
			if !slices.Equal(d.Adaptor.Params().Data(n), alone[kind].Adaptor.Params().Data(n)) {
				t.Errorf("%s: %s differs between shared and solo distillation", kind, n)
			}
		}
	}
	if len(src.epochs) != 0 {
		t.Errorf("%d epochs of records left in the source", len(src.epochs))
	}
	// A member of another operating point is refused.
	c := tinyConfig()
	c.Clock = "3"
	d, _ := NewDistiller(filepath.Join(t.TempDir(), "x"), m, "t", s, c, nil)
	d.Source = src
	if err := d.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot share") {
		t.Errorf("mixed source: %v", err)
	}
}

// TestSeveralStepCounts: one adaptor conditioned on the step size is
// distilled for 4 and 6 steps and loads for either, not for 5.
func TestSeveralStepCounts(t *testing.T) {
	m := tinyTeacher(t)
	s := schedule(t)
	c := tinyConfig()
	c.Adaptor.StepSize = true
	c.StepCounts = []int{4, 6}
	dir := filepath.Join(t.TempDir(), "multi")
	d, err := NewDistiller(dir, m, "t", s, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !(d.last.ValLoss > 0) {
		t.Errorf("validation loss %g", d.last.ValLoss)
	}
	for _, steps := range []int{4, 6} {
		cw, _, err := Open(m, dir, 1, "dpmpp2m", steps, "", false)
		if err != nil {
			t.Fatalf("%d steps: %v", steps, err)
		}
		draw(t, cw, "dpmpp2m", steps, 1, 0)
	}
	if _, _, err := Open(m, dir, 1, "dpmpp2m", 5, "", false); err == nil || !strings.Contains(err.Error(), "at 4, 6 steps") {
		t.Errorf("5 steps: %v", err)
	}
	bad := tinyConfig()
	bad.StepCounts = []int{6, 8}
	bad.Adaptor.StepSize = true
	if _, err := NewDistiller(t.TempDir(), m, "t", s, bad, nil); err == nil || !strings.Contains(err.Error(), "do not include") {
		t.Errorf("counts without the adaptor's: %v", err)
	}
}
