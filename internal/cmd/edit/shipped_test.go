package edit

import (
	"path/filepath"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/unet"
)

// TestShippedEditorAndStudent checks that the editor edit runs by default
// is a three-pass editor that chains its clauses, and that the shipped
// student beside it (models/mnist_edit_ft_gd) was distilled from exactly
// these weights and edits the same way by default, as docs/editing.md's
// savings study assumes when it measures one against the other.
func TestShippedEditorAndStudent(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	editor := filepath.Join(root, filepath.FromSlash(DefaultModel))
	student := filepath.Join(root, "models", "mnist_edit_ft_gd")

	m, err := unet.Load(editor)
	if err != nil {
		t.Fatalf("the default editor %s: %v", DefaultModel, err)
	}
	if g, err := diffusion.LoadGuidanceInfo(editor); err != nil || g != nil {
		t.Fatalf("the default editor %s is a guidance-distilled student (%v, %v): want a three-pass editor", DefaultModel, g, err)
	}
	if m.Config.InChannels != 2 {
		t.Fatalf("the default editor takes %d input channels, want 2 (the noisy image and the source)", m.Config.InChannels)
	}
	g, err := diffusion.LoadGuidanceInfo(student)
	if err != nil || g == nil {
		t.Fatalf("%s: no guidance distillation (%v)", student, err)
	}
	if g.Fingerprint != m.Fingerprint() {
		t.Fatalf("%s was distilled from weights %s, the default editor's are %s", student, g.Fingerprint, m.Fingerprint())
	}
	de, err := edits.LoadDefaults(editor)
	if err != nil || de == nil {
		t.Fatalf("the default editor's %s: %v", edits.DefaultsFile, err)
	}
	if de.ChainSteps <= 0 || de.ChainStrength <= 0 {
		t.Fatalf("the default editor does not chain from the source by default: %+v", de)
	}
	ds, err := edits.LoadDefaults(student)
	if err != nil || ds == nil {
		t.Fatalf("the student's %s: %v", edits.DefaultsFile, err)
	}
	if ds.TextScale != de.TextScale || ds.ImageScale != de.ImageScale || ds.Steps != de.Steps || ds.ChainSteps != de.ChainSteps || ds.ChainStrength != de.ChainStrength {
		t.Fatalf("the student's defaults %+v differ from its teacher's %+v", ds, de)
	}
}
