package study

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

// ReadSamples reads n samples of per-sample shape (C, H, W) from an .npz
// file's "samples" array, as WriteSamples writes them; false when the file
// is missing or holds another number or shape of samples.
func ReadSamples(path string, n int, shape []int) ([]float32, bool) {
	a, err := npzio.Read(path)
	if err != nil {
		return nil, false
	}
	x := a["samples"].F32
	per := shape[0] * shape[1] * shape[2]
	if x == nil || len(x) != n*per {
		return nil, false
	}
	return x, true
}

// WriteSamples writes n samples of shape (C, H, W) to an .npz file (array
// "samples", (N, C, H, W)), creating its directory.
func WriteSamples(path string, x []float32, n int, shape []int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if len(x) != n*shape[0]*shape[1]*shape[2] {
		return fmt.Errorf("%s: %d values for %d samples of %v", path, len(x), n, shape)
	}
	return npzio.Write(path, []string{"samples"}, map[string]npzio.Array{"samples": npzio.Float32(x, n, shape[0], shape[1], shape[2])})
}

// CachedSamples returns the n samples cached at path, or draws them and
// caches them there: a study's reference samples, drawn once per study
// directory.
func CachedSamples(path string, n int, shape []int, draw func() ([]float32, error)) ([]float32, error) {
	if x, ok := ReadSamples(path, n, shape); ok {
		return x, nil
	}
	x, err := draw()
	if err != nil {
		return nil, err
	}
	return x, WriteSamples(path, x, n, shape)
}
