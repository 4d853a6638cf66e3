package captions

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/clockwork-go/clockwork/datasets"
)

// Side is the height and width of the images.
const Side = 32

// srcSide is the height and width of the MNIST source digits.
const srcSide = 28

// NameProb is the probability that a caption names each attribute other
// than the digit (the size, the stroke, the column and the row, each drawn
// on its own).
const NameProb = 0.6

// The layout of the digits: the height of a digit's ink in pixels, and the
// coordinate of its centre of mass in each column and row, by size. Large
// digits move less, so that they stay on the canvas.
var (
	heights = [...]float64{Small: 13, Large: 22}
	centres = [...][4]float64{Small: {1: 10, 2: 16, 3: 22}, Large: {1: 12, 2: 16, 3: 20}}
)

// jitter is the largest shift of a digit's height and of its centre of mass
// from the layout, in pixels (drawn uniformly).
const jitter = 1.0

// inkLevel is the source pixel value (0 to 255) from which a pixel counts as
// ink for the bounding box.
const inkLevel = 128

// Set is a captioned-digits data set: the images, the attributes each was
// drawn with, and its caption (which names the digit and some of the other
// attributes; Prompts holds what each caption names).
type Set struct {
	// Images holds the 1×32×32 byte images, unpadded, labelled with their
	// digits (10 classes).
	Images   *datasets.Images
	Attrs    []Attrs
	Captions []string
	Prompts  []Prompt
}

// Len returns the number of images.
func (s *Set) Len() int { return len(s.Attrs) }

// Subset returns the first n images (a view sharing storage).
func (s *Set) Subset(n int) *Set {
	n = max(min(n, s.Len()), 0)
	sub := &Set{Images: s.Images.Subset(n), Attrs: s.Attrs[:n]}
	if len(s.Captions) >= n {
		sub.Captions = s.Captions[:n]
	}
	if len(s.Prompts) >= n {
		sub.Prompts = s.Prompts[:n]
	}
	return sub
}

// Open generates n captioned images from MNIST's "train" or "test" split
// (datasets.MNIST from the module cache) with seed.
func Open(split string, n int, seed uint64) (*Set, error) {
	if n <= 0 {
		return nil, fmt.Errorf("captions: %d images: the number must be positive", n)
	}
	src, err := datasets.MNIST(split, "", false)
	if err != nil {
		return nil, err
	}
	return Generate(src, n, seed)
}

// Generate draws n captioned images from src, MNIST-like digits: 1×28×28
// bytes with labels in [0, 9] (padding on read, if any, is ignored). Image i takes a source digit at a random index and
// draws its attributes and caption from a generator seeded with (seed, i)
// alone, so its bytes and caption do not depend on n: the first m images of
// a set of n are the set of m.
func Generate(src *datasets.Images, n int, seed uint64) (*Set, error) {
	if n <= 0 {
		return nil, fmt.Errorf("captions: %d images: the number must be positive", n)
	}
	if err := checkSource(src); err != nil {
		return nil, err
	}
	set := &Set{
		Images: &datasets.Images{
			Name: "captions-" + strings.TrimPrefix(src.Name, "mnist-"),
			C:    1, H: Side, W: Side,
			U8:      make([]uint8, n*Side*Side),
			Labels:  make([]int64, n),
			Classes: 10,
		},
		Attrs:    make([]Attrs, n),
		Captions: make([]string, n),
		Prompts:  make([]Prompt, n),
	}
	var r renderer
	for i := range n {
		if err := set.draw(src, i, seed, &r); err != nil {
			return nil, err
		}
	}
	set.Images.Captions = set.Captions // what a text-conditioned model trains on
	return set, nil
}

// checkSource reports a source that is not labelled MNIST-like digits.
func checkSource(src *datasets.Images) error {
	if src == nil {
		return fmt.Errorf("captions: no source images")
	}
	if src.C != 1 || src.H != srcSide || src.W != srcSide || src.U8 == nil {
		return fmt.Errorf("captions: source %s holds %d×%d×%d %s images, want 1×28×28 bytes (MNIST)", src.Name, src.C, src.H, src.W, map[bool]string{true: "byte", false: "float"}[src.U8 != nil])
	}
	m := src.Len()
	if m == 0 || len(src.U8) != m*srcSide*srcSide {
		return fmt.Errorf("captions: source %s has %d bytes, not whole 28×28 images", src.Name, len(src.U8))
	}
	if len(src.Labels) != m {
		return fmt.Errorf("captions: source %s has %d labels for %d images (it must be labelled)", src.Name, len(src.Labels), m)
	}
	for i, l := range src.Labels {
		if l < 0 || l > 9 {
			return fmt.Errorf("captions: source %s: label %d of image %d is not a digit", src.Name, l, i)
		}
	}
	return nil
}

// draw makes image i of the set.
func (s *Set) draw(src *datasets.Images, i int, seed uint64, r *renderer) error {
	rng := rand.New(rand.NewPCG(seed, uint64(i)^0x63617074696f6e73)) // "captions"
	m := src.Len()
	dr := DrawLayout(rng)
	a, dh, dx, dy := dr.Attrs, dr.DH, dr.DX, dr.DY
	// A source digit too wide for the size (or without ink) is drawn
	// again: the height sets the scale, and the width must then fit.
	const tries = 100
	for t := 0; ; t++ {
		if t == tries {
			return fmt.Errorf("captions: image %d: %d source digits of %s in a row do not fit a %s digit", i, tries, src.Name, a.Size)
		}
		j := rng.IntN(m)
		a.Digit = int(src.Labels[j])
		if r.render(src.U8[j*srcSide*srcSide:(j+1)*srcSide*srcSide], a, dh, dx, dy, 0, s.Images.U8[i*Side*Side:(i+1)*Side*Side]) {
			break
		}
	}
	p := Prompt{Digit: a.Digit}
	numeral := rng.IntN(2) == 1
	if rng.Float64() < NameProb {
		p.Stroke = a.Stroke
	}
	if rng.Float64() < NameProb {
		p.Size = a.Size
	}
	if rng.Float64() < NameProb {
		p.H = a.H
	}
	if rng.Float64() < NameProb {
		p.V = a.V
	}
	s.Attrs[i] = a
	s.Prompts[i] = p
	s.Captions[i] = p.caption(numeral)
	s.Images.Labels[i] = int64(a.Digit)
	return nil
}

// strokeWidth is the stroke width each stroke gives a source digit, in
// source pixels, as strokeWidthOf measures it.
var strokeWidth = [...]float64{Thin: 1.5, Normal: 2.6, Thick: 4.2}

// maxMorph bounds the morphological steps toward a stroke width.
const maxMorph = 4

// renderer holds the buffers of one rendering.
type renderer struct {
	a, b [srcSide * srcSide]float32 // the source digit, a step of morphology
	rot  [rotSide * rotSide]float32 // the digit rotated, on a larger canvas
	out  [Side * Side]float32
	rs   resampler
	// placed is where the last digit went.
	placed placement
	// at, when set, is where the centre of mass goes instead of the
	// layout's cell (a digit that would leave the canvas there is not
	// drawn), and zoom, when not 0, multiplies the scale: a Drawing's At
	// and Zoom.
	at   *[2]float64
	zoom float64
}

// placement is where a digit was drawn, in output pixels: the scale, the
// box (left, top, right, bottom) of all of the source's pixels that are not
// 0, that of its ink, and where its centre of mass went.
type placement struct {
	scale      float64
	drawn, ink [4]float64
	com        [2]float64
}

// render draws the source digit src (28×28 bytes) with the attributes a
// (but its digit) into dst (32×32 bytes): the stroke's morphology, then a
// resampling that gives the ink the size's height (times 1+dh/height) and
// puts its centre of mass at the cell's centre shifted by (dx, dy), moved
// the least that keeps all of the source's pixels that are not 0 inside the
// canvas (so nothing of the digit is cut off). A non-zero angle (degrees,
// counter-clockwise as seen) rotates the digit about its centre of mass
// after the morphology, by bilinear interpolation; the scale is still set
// by the unrotated ink's height, so a rotation changes nothing else. It
// returns false, drawing nothing, for a digit without ink or too wide for
// the canvas at the size.
func (r *renderer) render(src []uint8, a Attrs, dh, dx, dy, angle float64, dst []uint8) bool {
	for k, v := range src {
		r.a[k] = float32(v)
	}
	cur := setStroke(r.a[:], r.b[:], srcSide, strokeWidth[a.Stroke])
	// The bounding boxes of the ink and of everything drawn, and the centre
	// of mass (pixel centres at k+0.5).
	ink, all := inkBoxes(cur, srcSide)
	var mass, mx, my float64
	for y := range srcSide {
		for x := range srcSide {
			v := float64(cur[y*srcSide+x])
			mass += v
			mx += float64(v * (float64(x) + 0.5)) // no fused multiply-add: the same bytes everywhere
			my += float64(v * (float64(y) + 0.5))
		}
	}
	if ink.x1 < 0 {
		return false
	}
	mx /= mass
	my /= mass
	scale := (heights[a.Size] + dh) / float64(ink.y1-ink.y0+1)
	if r.zoom != 0 {
		scale *= r.zoom
	}
	img, side := cur, srcSide
	if angle != 0 {
		// Rotate on a canvas large enough for any rotation of the
		// source, and take the boxes from the rotated digit.
		rotate(cur, srcSide, rotPad, mx, my, angle, r.rot[:])
		img, side = r.rot[:], rotSide
		mx += rotPad
		my += rotPad
		ink, all = inkBoxes(img, side)
		if ink.x1 < 0 {
			return false
		}
	}
	if scale*float64(max(all.x1-all.x0, all.y1-all.y0)+1) > Side {
		return false
	}
	place := func(lo, hi, c, t float64) float64 {
		// [lo, hi) is the extent of the drawing in the source, c its
		// centre of mass, t where that goes.
		if left := float64((lo-c)*scale) + t; left < 0 {
			t -= left
		}
		if right := float64((hi-c)*scale) + t; right > Side {
			t -= right - Side
		}
		return t
	}
	tx := place(float64(all.x0), float64(all.x1+1), mx, centres[a.Size][a.H]+dx)
	ty := place(float64(all.y0), float64(all.y1+1), my, centres[a.Size][a.V]+dy)
	if r.at != nil {
		tx, ty = r.at[0], r.at[1]
		inside := func(lo, hi, c, t float64) bool {
			return float64((lo-c)*scale)+t >= 0 && float64((hi-c)*scale)+t <= Side
		}
		if !inside(float64(all.x0), float64(all.x1+1), mx, tx) || !inside(float64(all.y0), float64(all.y1+1), my, ty) {
			return false
		}
	}
	r.placed = placement{
		scale: scale,
		drawn: [4]float64{(float64(all.x0)-mx)*scale + tx, (float64(all.y0)-my)*scale + ty, (float64(all.x1+1)-mx)*scale + tx, (float64(all.y1+1)-my)*scale + ty},
		ink:   [4]float64{(float64(ink.x0)-mx)*scale + tx, (float64(ink.y0)-my)*scale + ty, (float64(ink.x1+1)-mx)*scale + tx, (float64(ink.y1+1)-my)*scale + ty},
		com:   [2]float64{tx, ty},
	}
	r.rs.run(img, side, side, scale, mx, my, tx, ty, r.out[:])
	for k, v := range r.out {
		dst[k] = uint8(math.Round(float64(min(max(v, 0), 255))))
	}
	return true
}

// inkBoxes returns the bounding boxes of the ink (pixels of inkLevel and
// above) and of every pixel that is not 0 of an n×n image; x1 is −1 for
// an empty box.
func inkBoxes(img []float32, n int) (ink, all box) {
	ink, all = box{n, n, -1, -1}, box{n, n, -1, -1}
	for y := range n {
		for x := range n {
			v := img[y*n+x]
			if v >= inkLevel {
				ink.add(x, y)
			}
			if v > 0 {
				all.add(x, y)
			}
		}
	}
	return ink, all
}

// box is a bounding box, x0 to x1 and y0 to y1 inclusive.
type box struct{ x0, y0, x1, y1 int }

// add extends the box to pixel (x, y).
func (b *box) add(x, y int) {
	b.x0, b.x1 = min(b.x0, x), max(b.x1, x)
	b.y0, b.y1 = min(b.y0, y), max(b.y1, y)
}

// rotPad is the margin around a source digit that rotate draws on: any
// rotation of the 28×28 square about a point inside it fits in
// 28·√2 < 40 pixels when the point is near the centre, as a digit's centre
// of mass is.
const (
	rotPad  = 6
	rotSide = srcSide + 2*rotPad
)

// rotate draws the n×n image src, rotated by angle degrees
// (counter-clockwise as seen, y pointing down) about (cx, cy), onto dst,
// an (n+2·pad)² canvas whose pixel (x, y) is the source's (x−pad, y−pad),
// by bilinear interpolation (the source beyond its edges is 0).
func rotate(src []float32, n, pad int, cx, cy, angle float64, dst []float32) {
	side := n + 2*pad
	th := angle * math.Pi / 180
	c, s := math.Cos(th), math.Sin(th)
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= n || y >= n {
			return 0
		}
		return float64(src[y*n+x])
	}
	for y := range side {
		for x := range side {
			// The inverse rotation of the pixel centre, in source pixels;
			// the conversions forbid fused multiply-adds.
			px, py := float64(x-pad)+0.5-cx, float64(y-pad)+0.5-cy
			sx := float64(c*px) - float64(s*py) + cx - 0.5
			sy := float64(s*px) + float64(c*py) + cy - 0.5
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			top := float64((1-fx)*at(x0, y0)) + float64(fx*at(x0+1, y0))
			bot := float64((1-fx)*at(x0, y0+1)) + float64(fx*at(x0+1, y0+1))
			dst[y*side+x] = float32(float64((1-fy)*top) + float64(fy*bot))
		}
	}
}
