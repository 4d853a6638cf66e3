package diffusion

import (
	"math"
	"math/rand/v2"
)

// Equivariant fine-tuning (FAIRY, Wu et al., CVPR 2024, Sec. 3.3): the same
// random affine transform applied to an edit pair's source and target, so
// that an editor learns to follow a moving input. The ranges are FAIRY's.
const (
	affineMaxAngle = 5    // degrees of rotation, either way
	affineMaxShift = 0.05 // of the image's side, each axis
	affineMaxScale = 0.05 // 0.95 to 1.05
	affineMaxShear = 5    // degrees, either way
)

// affine is one transform: out(p) = in(inv·(p − c − shift) + c).
type affine struct {
	inv    [4]float64 // the inverse of R(θ)·Shear(φ)·Scale(s)
	dx, dy float64
}

// drawAffine draws a transform of h×w images from rng.
func drawAffine(rng *rand.Rand, h, w int) affine {
	u := func(a float64) float64 { return (2*rng.Float64() - 1) * a }
	th, sh := u(affineMaxAngle)*math.Pi/180, u(affineMaxShear)*math.Pi/180
	s := 1 + u(affineMaxScale)
	dx, dy := u(affineMaxShift)*float64(w), u(affineMaxShift)*float64(h)
	c, sn := math.Cos(th), math.Sin(th)
	// M = R·Sh·S with R = [[c, −sn], [sn, c]], Sh = [[1, tan φ], [0, 1]].
	t := math.Tan(sh)
	m := [4]float64{c * s, (c*t - sn) * s, sn * s, (sn*t + c) * s}
	det := m[0]*m[3] - m[1]*m[2]
	return affine{inv: [4]float64{m[3] / det, -m[1] / det, -m[2] / det, m[0] / det}, dx: dx, dy: dy}
}

// apply warps the c×h×w image x in place (bilinear; beyond the image the
// background −1), using tmp (h·w) as scratch.
func (a affine) apply(x []float32, c, h, w int, tmp []float32) {
	cx, cy := float64(w)/2, float64(h)/2
	for ch := range c {
		img := x[ch*h*w : (ch+1)*h*w]
		copy(tmp, img)
		at := func(xx, yy int) float64 {
			if xx < 0 || yy < 0 || xx >= w || yy >= h {
				return -1
			}
			return float64(tmp[yy*w+xx])
		}
		for y := range h {
			for xx := range w {
				px, py := float64(xx)+0.5-cx-a.dx, float64(y)+0.5-cy-a.dy
				sx := a.inv[0]*px + a.inv[1]*py + cx - 0.5
				sy := a.inv[2]*px + a.inv[3]*py + cy - 0.5
				x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
				fx, fy := sx-float64(x0), sy-float64(y0)
				v := (1-fy)*((1-fx)*at(x0, y0)+fx*at(x0+1, y0)) + fy*((1-fx)*at(x0, y0+1)+fx*at(x0+1, y0+1))
				img[y*w+xx] = float32(v)
			}
		}
	}
}
