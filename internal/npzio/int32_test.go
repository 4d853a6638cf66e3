package npzio

import (
	"path/filepath"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio/npztest"
)

// TestInt32Dtype: int32 arrays are widened to int64 and reported as int32
// (they used to be reported as int64).
func TestInt32Dtype(t *testing.T) {
	p := filepath.Join(t.TempDir(), "i.npz")
	if err := npztest.WriteInt32(p, "x", []int32{1, -2, 3}, 3); err != nil {
		t.Fatal(err)
	}
	a, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if x := a["x"]; x.Dtype() != "int32" || len(x.I64) != 3 || x.I64[1] != -2 {
		t.Errorf("int32 array read as %s %v", x.Dtype(), x.I64)
	}
}
