package captions

import "math"

// resampler maps a source image to a Side×Side one by an axis-aligned
// scaling and shift, separably (rows, then columns).
type resampler struct {
	wx, wy [Side]taps
	tmp    []float32
}

// taps are the source indices and weights of one output pixel.
type taps struct {
	lo int // first source index
	w  []float32
}

// run resamples src (sw×sh values, row after row) into dst (Side×Side):
// on each axis the source coordinate s maps to (s−c)·scale + t, pixel
// centres lying at k+0.5 on both sides, and the source beyond its edges is
// 0.
func (r *resampler) run(src []float32, sw, sh int, scale, cx, cy, tx, ty float64, dst []float32) {
	setTaps(&r.wx, sw, scale, cx, tx)
	setTaps(&r.wy, sh, scale, cy, ty)
	if cap(r.tmp) < sh*Side {
		r.tmp = make([]float32, sh*Side)
	}
	tmp := r.tmp[:sh*Side]
	for y := range sh {
		row := src[y*sw : (y+1)*sw]
		for k, t := range r.wx {
			var s float32
			for j, w := range t.w {
				s += float32(w * row[t.lo+j]) // the conversion forbids fused multiply-adds
			}
			tmp[y*Side+k] = s
		}
	}
	for k, t := range r.wy {
		for x := range Side {
			var s float32
			for j, w := range t.w {
				s += float32(w * tmp[(t.lo+j)*Side+x])
			}
			dst[k*Side+x] = s
		}
	}
}

// setTaps fills the weights of the map from source coordinate s (n pixels)
// to output coordinate (s−c)·scale + t: a tent filter (linear
// interpolation) whose radius is one output pixel when shrinking and one
// source pixel when enlarging (antialiased bilinear resampling), normalised
// over the whole lattice so that pixels beyond the source count as
// background.
func setTaps(out *[Side]taps, n int, scale, c, t float64) {
	rad := max(1, 1/scale)
	for k := range out {
		s := (float64(k)+0.5-t)/scale + c // source coordinate of the pixel centre
		lo := int(math.Floor(s - rad - 0.5))
		hi := int(math.Ceil(s + rad - 0.5))
		var sum float64
		ws := out[k].w[:0]
		first := -1
		for j := lo; j <= hi; j++ {
			w := 1 - math.Abs(float64(j)+0.5-s)/rad
			if w <= 0 {
				continue
			}
			sum += w
			if j >= 0 && j < n {
				if first < 0 {
					first = j
				}
				ws = append(ws, float32(w)) // positive weights are contiguous
			}
		}
		for i := range ws {
			ws[i] = float32(float64(ws[i]) / sum)
		}
		out[k] = taps{lo: max(first, 0), w: ws}
	}
}
