package distill_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/texttest"
	"github.com/clockwork-go/clockwork/videos"
)

// TestDistillFromSource: an editor's adaptor distilled for edits started
// part-way from their source (Config.Strength) learns on trajectories that
// start there (without the edit pairs' sources there is nothing to start
// from: an error), records the strength in its manifest and name, is
// loaded for such runs only, and runs the adaptor at the clock's steps of
// the steps such a run makes.
func TestDistillFromSource(t *testing.T) {
	e, err := edits.LoadEditor(texttest.EditorDir(t))
	if err != nil {
		t.Fatal(err)
	}
	set := texttest.Pairs(t, 16)
	c := distill.DefaultConfig()
	c.Adaptor = distill.AdaptorConfig{Kind: "resnet", Width: 8, Depth: 1, Steps: 6}
	c.Strength = 0.67 // the last 4 of 6 steps: full, adaptor, full, adaptor
	c.Epochs, c.Trajectories, c.Validation, c.Batch, c.LR = 3, 8, 4, 4, 3e-3
	if name := c.Name(); name != "resnet-dpmpp2m6-clock2-s0.67-w8" {
		t.Errorf("name %q", name)
	}

	bare, err := distill.NewDistiller(filepath.Join(t.TempDir(), "bare"), e.Model, "editor", e.Noise, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bare.UseText(e.Text, set.Phrases()); err != nil {
		t.Fatal(err)
	}
	if err := bare.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "needs an editor and its edit pairs") {
		t.Fatalf("a run from the source without sources: %v", err)
	}

	dir := filepath.Join(t.TempDir(), c.Name())
	d, err := distill.NewDistiller(dir, e.Model, "editor", e.Noise, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.UseEdits(e.Text, set.Phrases(), set.Data.Inputs, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One epoch, a resume and two more end where the three did, bit for
	// bit, whatever the sampling batch of the trajectories.
	half := filepath.Join(t.TempDir(), "half")
	c1 := c
	c1.Epochs = 1
	h, err := distill.NewDistiller(half, e.Model, "editor", e.Noise, c1, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.UnrollBatch = 3
	if err := h.UseEdits(e.Text, set.Phrases(), set.Data.Inputs, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := distill.ResumeDistiller(half, e.Model, "editor", e.Noise, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UseEdits(e.Text, set.Phrases(), set.Data.Inputs, nil); err != nil {
		t.Fatal(err)
	}
	r.Config.Epochs = c.Epochs
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range d.Adaptor.Params().Names() {
		if !slices.Equal(d.Adaptor.Params().Data(n), r.Adaptor.Params().Data(n)) {
			t.Fatalf("%s differs after a resume", n)
		}
	}
	if r.Config.Strength != 0.67 {
		t.Errorf("resumed at strength %g", r.Config.Strength)
	}

	man := d.Manifest()
	if man.Strength != 0.67 || man.Clock != "clock:2" {
		t.Errorf("manifest: strength %g, clock %q", man.Strength, man.Clock)
	}
	if !(man.ValLoss < man.IdentityValLoss) {
		t.Errorf("validation loss %g is not below the identity adaptor's %g", man.ValLoss, man.IdentityValLoss)
	}

	if _, _, err := distill.Open(e.Model, dir, 1, "dpmpp2m", 6, "", false); err == nil || !strings.Contains(err.Error(), "distilled for the last 4 of 6 steps from the source (strength 0.67), not 6 steps from noise") {
		t.Errorf("a run from noise: %v", err)
	}
	if _, _, err := distill.OpenFrom(e.Model, dir, 1, "dpmpp2m", 6, 0.5, "", false); err == nil || !strings.Contains(err.Error(), "not the last 3 of 6 steps from the source (strength 0.5)") {
		t.Errorf("another strength: %v", err)
	}
	// A manifest's strength is one in (0, 1) or none.
	mpath := filepath.Join(dir, distill.ManifestFile)
	good, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(mpath, []byte(strings.Replace(string(good), `"strength": 0.67`, `"strength": 1`, 1)), 0o644)
	if _, err := distill.ReadManifest(dir); err == nil || !strings.Contains(err.Error(), "strength 1: want a strength in (0, 1)") {
		t.Errorf("a manifest at strength 1: %v", err)
	}
	os.WriteFile(mpath, good, 0o644)
	for _, bad := range []float64{math.NaN(), -0.3, 1.5} {
		if _, _, err := distill.LoadFrom(dir, e.Model, "dpmpp2m", 6, bad, false); err == nil || !strings.Contains(err.Error(), "strength") {
			t.Errorf("strength %g: %v", bad, err)
		}
	}
	cw, _, err := distill.OpenFrom(e.Model, dir, 1, "dpmpp2m", 6, 0.67, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := cw.Clock.Adaptor; !slices.Equal(got, []bool{false, true, false, true}) {
		t.Errorf("clock over the run's steps: %v", got)
	}

	// Edits from the source with the adaptor: other images than the
	// editor's own, the adaptor's FLOPs in place of the core's at two of
	// the four steps.
	o := edits.DefaultOptions()
	o.Steps, o.Strength = 6, 0.67
	sources := make([]float32, 2*32*32)
	set.Data.Inputs.Batch([]int{0, 1}, sources, nil)
	plain, err := videos.Editing{Editor: e, Options: o, Batch: 2}.Run(sources, 2, "make it thicker", nil)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := videos.Editing{Editor: e, Options: o, Batch: 2, Adaptor: dir}.Run(sources, 2, "make it thicker", nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(plain.Frames, fast.Frames) {
		t.Error("the adaptor changed nothing")
	}
	if !(fast.FLOPs < plain.FLOPs) || fast.FLOPs <= 0 {
		t.Errorf("FLOPs %d with the adaptor, %d without", fast.FLOPs, plain.FLOPs)
	}
}
