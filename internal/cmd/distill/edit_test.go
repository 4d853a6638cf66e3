package distill

import (
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/texttest"
)

// TestDistillEditor: an adaptor of an editor distils from trajectories of
// edit pairs (the source images in the teacher's input).
func TestDistillEditor(t *testing.T) {
	dir := texttest.EditorDir(t)
	code, so, se := runCmd(append([]string{"-model", dir}, tiny...)...)
	if code != 0 || !strings.Contains(so, "validation loss") {
		t.Fatalf("exit %d: %s %s", code, so, se)
	}
}
