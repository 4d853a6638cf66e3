package distill

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/texttest"
	"github.com/clockwork-go/clockwork/textenc"
)

// TestDistillEditor: an adaptor of an editor distils from trajectories of
// edit pairs (the source images in the teacher's input).
func TestDistillEditor(t *testing.T) {
	m, p := texttest.Model(t, 16, 16)
	w, err := m.WidenInput(2)
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Extend(edits.Vocabulary(), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "editor")
	if err := w.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := diffusion.SaveScheduleConfig(dir, diffusion.DefaultScheduleConfig()); err != nil {
		t.Fatal(err)
	}
	if err := q.Save(textenc.ModelDir(dir)); err != nil {
		t.Fatal(err)
	}
	code, so, se := runCmd(append([]string{"-model", dir}, tiny...)...)
	if code != 0 || !strings.Contains(so, "validation loss") {
		t.Fatalf("exit %d: %s %s", code, so, se)
	}
}
