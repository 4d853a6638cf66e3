package nn

import (
	"bytes"
	"unsafe"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// filterCache remembers the filters a convolution last packed or
// transformed, so that sampling, which runs the same weights step after
// step, repacks them only when they change (an optimizer step changes them
// in place). The comparison is of bits, at memory speed.
type filterCache struct {
	last []float32
	key  filterKey
}

// filterKey is what a packing depends on besides the filters' values: the
// layout's shape, and the GEMM path and blocking it was packed for (tests
// and benchmarks switch them between runs).
type filterKey struct {
	shape [3]int
	path  simd.Path
	kc    int
}

// changed reports whether w, packed for shape (the layout's), differs in
// any bit from the filters of the last call or was packed for another GEMM
// path or blocking, and remembers it.
func (fc *filterCache) changed(w []float32, shape [3]int) bool {
	key := filterKey{shape, simd.Current(), simd.CurrentBlocking().KC}
	if fc.key == key && len(fc.last) == len(w) && bytes.Equal(floatBytes(fc.last), floatBytes(w)) {
		return false
	}
	fc.last = append(fc.last[:0], w...)
	fc.key = key
	return true
}

// floatBytes views x's memory as bytes.
func floatBytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}
