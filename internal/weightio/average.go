package weightio

import (
	"fmt"
	"math"
	"slices"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

// Average returns the weighted mean Σ wᵢ·mᵢ of the float32 weights files
// at paths (any format Read takes), by name, and the names in order: the
// arithmetic of a model soup (Wortsman et al., "Model soups: averaging
// weights of multiple fine-tuned models improves accuracy without
// increasing inference time", ICML 2022). The sum is taken in float64.
// Every file must hold the same names with the same shapes, as float32
// and finite; weights must be as many as the paths, non-negative and
// summing to 1 within 1e-6. An error names the file and the first key at
// fault.
func Average(paths []string, weights []float64) ([]string, map[string]npzio.Array, error) {
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("average: no weights files")
	}
	if len(weights) != len(paths) {
		return nil, nil, fmt.Errorf("average: %d weights for %d files", len(weights), len(paths))
	}
	sum := 0.0
	for i, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, nil, fmt.Errorf("average: weight %v of %s: want a finite number ≥ 0", w, paths[i])
		}
		sum += w
	}
	if math.Abs(sum-1) > 1e-6 {
		return nil, nil, fmt.Errorf("average: the weights sum to %v, not 1", sum)
	}
	var names []string
	var acc map[string][]float64
	var shapes map[string][]int
	for i, p := range paths {
		m, err := Read(p)
		if err != nil {
			return nil, nil, err
		}
		if acc == nil {
			acc, shapes = make(map[string][]float64, len(m)), make(map[string][]int, len(m))
			for n, a := range m {
				names = append(names, n)
				acc[n], shapes[n] = make([]float64, a.Len()), a.Shape
			}
			slices.Sort(names)
		}
		for _, n := range names {
			if _, ok := m[n]; !ok {
				return nil, nil, fmt.Errorf("%s: no weight %q (%s has it)", p, n, paths[0])
			}
		}
		for n, a := range m {
			want, ok := shapes[n]
			switch {
			case !ok:
				return nil, nil, fmt.Errorf("%s: weight %q is not in %s", p, n, paths[0])
			case !slices.Equal(a.Shape, want):
				return nil, nil, fmt.Errorf("%s: weight %q has shape %v, %s's has %v", p, n, a.Shape, paths[0], want)
			case a.F32 == nil:
				return nil, nil, fmt.Errorf("%s: weight %q has dtype %s, want float32", p, n, a.Dtype())
			}
			dst := acc[n]
			for j, v := range a.F32 {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, nil, fmt.Errorf("%s: weight %q holds %v at index %d", p, n, v, j)
				}
				dst[j] += weights[i] * float64(v)
			}
		}
	}
	out := make(map[string]npzio.Array, len(names))
	for _, n := range names {
		f := make([]float32, len(acc[n]))
		for j, v := range acc[n] {
			f[j] = float32(v)
		}
		out[n] = npzio.Array{Shape: slices.Clone(shapes[n]), F32: f}
	}
	return names, out, nil
}
