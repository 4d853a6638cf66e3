package nn

import (
	"github.com/clockwork-go/clockwork/internal/simd"
)

// A batch smaller than the machine's cores (a batch of one, above all)
// cannot fill them by splitting the work by samples, the way every
// convolution splits it otherwise: the Winograd convolutions
// (winograd.convWithin), the 1×1 ones (conv1Within) and the stride-2 ones
// (convStride2) then split each sample's phases across cores instead,
// computing every value as the split by samples does, so that a sample's
// bits do not depend on the split.

// withinOff turns the splits within a sample off (tests compare them with
// the split by samples).
var withinOff bool

// minParallelWork is the least work (in multiply-adds, as Parallel counts
// it) for which a convolution splits a sample across cores.
const minParallelWork = 1 << 15

// colBlock is how many columns of a product one core takes at a time when
// a sample's product is split: a whole AVX-512 micro-kernel tile.
const colBlock = 32

// gemmByColumns computes c = A·B for the packed A (m rows) and the B rows
// at off in base (cols columns, c's row stride cols), split across cores
// by blocks of colBlock columns. Each column's sum runs in the same order
// whatever the block, so the result is simd.GemmIndirect's over all
// columns to the bit.
func gemmByColumns(a *simd.PackedA, m int, base []float32, off []int, cols int, c []float32) {
	simd.Parallel((cols+colBlock-1)/colBlock, m*len(off)*colBlock, func(lo, hi int) {
		c0, c1 := lo*colBlock, min(hi*colBlock, cols)
		shifted := make([]int, len(off))
		for j, o := range off {
			shifted[j] = o + c0
		}
		simd.GemmIndirect(a, base, shifted, c1-c0, 0, c[c0:], cols)
	})
}

// conv1Within is conv1 of a 1×1 unpadded convolution for fewer samples
// than cores (a batch of one): each sample's product is split across cores
// by blocks of columns (pixels, gemmByColumns), its skewed copy by channel and its bias
// and epilogue by output channel. Every value is computed as conv1
// computes it, so the result is the same to the bit.
func conv1Within(y []float32, x planes, wt *simd.PackedA, bias []float32, n, cin, cout int, l wide, ep *epilogue, boff []int, skewed bool, st int, soff []int) {
	hw, cols := l.h*l.w, l.cols
	inSize, outSize := cin*hw, cout*cols
	var buf []float32
	if skewed {
		buf = getScratch(cin * st)
		defer putScratch(buf)
	}
	for i := 0; i < n; i++ {
		src, off := buf, soff
		if skewed {
			simd.Parallel(cin, hw, func(lo, hi int) {
				for ch := lo; ch < hi; ch++ {
					d := buf[ch*st : ch*st+hw]
					if p := x.plane(i, ch, d); &p[0] != &d[0] {
						copy(d, p)
					}
				}
			})
		} else {
			src, off = x.(dense).x[i*inSize:(i+1)*inSize], boff
		}
		yi := y[i*outSize : (i+1)*outSize]
		gemmByColumns(wt, cout, src, off, cols, yi)
		simd.Parallel(cout, cols, func(lo, hi int) {
			for oc := lo; oc < hi; oc++ {
				if bias != nil {
					row := yi[oc*cols : (oc+1)*cols]
					simd.Affine(row, row, 1, bias[oc])
				}
				ep.apply(y, i*outSize+oc*cols, cols, i*cout+oc)
			}
		})
	}
}
