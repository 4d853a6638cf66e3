package captions

// morph is a grayscale morphological operation on a 28×28 image.
type morph int

const (
	erodeCross   morph = iota // minimum over the pixel and its 4 neighbours
	dilateCross               // maximum over the pixel and its 4 neighbours
	dilateSquare              // maximum over the 3×3 neighbourhood
)

// apply writes op of the n×n image in into out; pixels beyond the image
// are background (0).
func apply(op morph, in, out []float32, n int) {
	at := func(x, y int) float32 {
		if x < 0 || y < 0 || x >= n || y >= n {
			return 0
		}
		return in[y*n+x]
	}
	for y := range n {
		for x := range n {
			v := in[y*n+x]
			switch op {
			case erodeCross:
				v = min(v, at(x-1, y), at(x+1, y), at(x, y-1), at(x, y+1))
			case dilateCross:
				v = max(v, at(x-1, y), at(x+1, y), at(x, y-1), at(x, y+1))
			case dilateSquare:
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						v = max(v, at(x+dx, y+dy))
					}
				}
			}
			out[y*n+x] = v
		}
	}
}

// setStroke brings the stroke width (strokeWidthOf) of the n×n image in a
// to about want by grayscale morphology: erosions (3×3 cross minimum) to
// thin it, dilations (3×3 cross maximum) to thicken it, at most maxMorph
// of them, the last blended with the image before it so as to end at
// want. b is scratch space; it returns a or b.
func setStroke(a, b []float32, n int, want float64) []float32 {
	cur, next := a, b
	w := strokeWidthOf(cur, n)
	for range maxMorph {
		op := dilateCross
		if w > want {
			op = erodeCross
		}
		apply(op, cur, next, n)
		w2 := strokeWidthOf(next, n)
		if (w2-want)*(w-want) > 0 && w2 != w {
			cur, next = next, cur
			w = w2
			continue
		}
		if w2 != w {
			// Blend the last step: the width is about linear in the blend.
			f := float32((want - w) / (w2 - w))
			for k, v := range next {
				cur[k] += float32(f * (v - cur[k])) // no fused multiply-add
			}
		}
		break
	}
	return cur
}

// strokeWidthOf estimates the stroke width in pixels of an n×n image of
// ink (≥ 0, full ink at any scale): the ink over half its total
// variation (the sum of absolute differences between neighbours, the
// image's border counting as background), which is the width of a band of
// ink of any length and shape.
func strokeWidthOf(f []float32, n int) float64 {
	var mass, tv float32
	for y := range n {
		prev := float32(0)
		for x := range n {
			v := f[y*n+x]
			mass += v
			tv += abs32(v - prev)
			prev = v
		}
		tv += prev
	}
	for x := range n {
		prev := float32(0)
		for y := range n {
			v := f[y*n+x]
			tv += abs32(v - prev)
			prev = v
		}
		tv += prev
	}
	if tv == 0 {
		return 0
	}
	return float64(2 * mass / tv)
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
