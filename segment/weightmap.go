package segment

import "math"

// WeightMap returns the per-pixel loss weights of Ronneberger et al.
// (2015), Eq. 2, for a size×size instance mask (0 background, k > 0 the
// k-th object):
//
//	w(x) = w_c(x) + w0 · exp(−(d1(x) + d2(x))² / 2σ²)
//
// where d1 and d2 are the Euclidean distances to the nearest and the
// second nearest object. w_c balances background against foreground: each
// of the two gets half the total weight (w_c = P/(2·|background|) on
// background pixels and P/(2·|foreground|) on the objects', P the pixel
// count; 1 everywhere when either is empty). As in the paper's use (the
// border term forces the network to learn the thin background gaps
// between touching cells), the border term is added on background
// pixels, and only when the mask holds two objects or more. The paper
// sets w0 = 10 and σ ≈ 5 pixels.
func WeightMap(inst []uint8, size int, w0, sigma float64) []float32 {
	p := size * size
	w := make([]float32, p)
	fg := 0
	ids := map[uint8]bool{}
	for _, v := range inst[:p] {
		if v != 0 {
			fg++
			ids[v] = true
		}
	}
	wb, wf := 1.0, 1.0
	if fg > 0 && fg < p {
		wb, wf = float64(p)/float64(2*(p-fg)), float64(p)/float64(2*fg)
	}
	for i, v := range inst[:p] {
		if v != 0 {
			w[i] = float32(wf)
		} else {
			w[i] = float32(wb)
		}
	}
	if len(ids) < 2 || w0 == 0 {
		return w
	}
	// d1, d2: the two smallest squared distances to an object, per pixel.
	d1, d2 := make([]float64, p), make([]float64, p)
	for i := range d1 {
		d1[i], d2[i] = math.Inf(1), math.Inf(1)
	}
	feature := make([]bool, p)
	for id := range ids {
		for i, v := range inst[:p] {
			feature[i] = v == id
		}
		for i, d := range squaredEDT(feature, size) {
			if d < d1[i] {
				d1[i], d2[i] = d, d1[i]
			} else if d < d2[i] {
				d2[i] = d
			}
		}
	}
	for i, v := range inst[:p] {
		if v == 0 {
			s := math.Sqrt(d1[i]) + math.Sqrt(d2[i])
			w[i] += float32(w0 * math.Exp(-s*s/(2*sigma*sigma)))
		}
	}
	return w
}

// squaredEDT returns the squared Euclidean distance from every pixel of a
// size×size grid to the nearest feature pixel (+Inf when there is none),
// by the two one-dimensional passes of Felzenszwalb and Huttenlocher,
// "Distance Transforms of Sampled Functions" (Theory of Computing 2012).
func squaredEDT(feature []bool, size int) []float64 {
	inf := math.Inf(1)
	d := make([]float64, size*size)
	for i, f := range feature {
		if !f {
			d[i] = inf
		}
	}
	f, out := make([]float64, size), make([]float64, size)
	v, z := make([]int, size), make([]float64, size+1)
	for x := range size { // columns
		for y := range size {
			f[y] = d[y*size+x]
		}
		edt1(f, out, v, z)
		for y := range size {
			d[y*size+x] = out[y]
		}
	}
	for y := range size { // rows
		copy(f, d[y*size:(y+1)*size])
		edt1(f, out, v, z)
		copy(d[y*size:(y+1)*size], out)
	}
	return d
}

// edt1 is the one-dimensional squared distance transform of f (the lower
// envelope of the parabolas (q − p)² + f(p)), written into d; v and z are
// scratch of len(f) and len(f)+1.
func edt1(f, d []float64, v []int, z []float64) {
	n := len(f)
	k := -1
	for q := range n {
		if math.IsInf(f[q], 1) {
			continue
		}
		for k >= 0 {
			p := v[k]
			s := ((f[q] + float64(q*q)) - (f[p] + float64(p*p))) / float64(2*(q-p))
			if s > z[k] {
				break
			}
			k--
		}
		k++
		v[k] = q
		if k == 0 {
			z[k] = math.Inf(-1)
		} else {
			p := v[k-1]
			z[k] = ((f[q] + float64(q*q)) - (f[p] + float64(p*p))) / float64(2*(q-p))
		}
		z[k+1] = math.Inf(1)
	}
	if k < 0 {
		for q := range n {
			d[q] = math.Inf(1)
		}
		return
	}
	j := 0
	for q := range n {
		for z[j+1] < float64(q) {
			j++
		}
		dq := float64(q - v[j])
		d[q] = dq*dq + f[v[j]]
	}
}
