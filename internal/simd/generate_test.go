package simd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestGeneratedAssembly regenerates the assembly with its generators and
// fails when a committed file differs: edit the generator, then run
// go generate ./internal/simd.
func TestGeneratedAssembly(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	for gen, file := range map[string]string{"gen_vec.go": "vec_amd64.s", "gen_kernels.go": "kernels_amd64.s"} {
		out := filepath.Join(t.TempDir(), file)
		cmd := exec.Command(goBin, "run", gen, "-o", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go run %s: %v\n%s", gen, err, b)
		}
		want, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what %s writes: run go generate ./internal/simd", file, gen)
		}
	}
}
