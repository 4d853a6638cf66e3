package captions

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/metrics"
)

// Geometry is what the pixels of one image say, before any threshold.
// Measures read ink as c = clamp(v + 0.5, 0, 1) of a pixel v in [−1, 1]:
// none at or below −0.5, full at or above 0.5.
type Geometry struct {
	// Ink reports whether some pixel is above mid-grey (v > 0); without
	// ink the other measures are 0.
	Ink bool `json:"ink"`
	// Height is the number of rows between the first and the last that
	// hold a pixel above mid-grey.
	Height float64 `json:"height"`
	// X and Y are the ink's centre of mass, pixel centres lying at k+0.5.
	X float64 `json:"x"`
	Y float64 `json:"y"`
	// Stroke is the ink over half its total variation (the sum of the
	// absolute differences of neighbouring pixels, beyond the image
	// counting as no ink): the width in pixels of a band of ink of any
	// length, whatever its shape.
	Stroke float64 `json:"stroke"`
}

// MeasureGeometry returns the geometry of a 32×32 image in [−1, 1]
// (Side·Side values). A NaN or infinite pixel is an error.
func MeasureGeometry(img []float32) (Geometry, error) {
	if len(img) != Side*Side {
		return Geometry{}, fmt.Errorf("captions: %d values are not a 32×32 image", len(img))
	}
	var g Geometry
	y0, y1 := Side, -1
	var mass, mx, my, tv float64
	ink := func(v float32) float64 { return float64(min(max(v+0.5, 0), 1)) }
	for y := range Side {
		prev := 0.0
		for x := range Side {
			v := img[y*Side+x]
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return Geometry{}, fmt.Errorf("captions: pixel (%d, %d) is %g", x, y, v)
			}
			c := ink(v)
			mass += c
			mx += c * (float64(x) + 0.5)
			my += c * (float64(y) + 0.5)
			tv += math.Abs(c - prev)
			prev = c
			if v > 0 {
				y0, y1 = min(y0, y), max(y1, y)
			}
		}
		tv += prev
	}
	for x := range Side {
		prev := 0.0
		for y := range Side {
			c := ink(img[y*Side+x])
			tv += math.Abs(c - prev)
			prev = c
		}
		tv += prev
	}
	if y1 < 0 {
		return g, nil
	}
	g.Ink = true
	g.Height = float64(y1 - y0 + 1)
	g.X, g.Y = mx/mass, my/mass
	g.Stroke = 2 * mass / tv
	return g, nil
}

// Framings of the digit for the classifier.
const (
	// FrameWhole classifies the image as it is.
	FrameWhole = "whole"
	// FrameCrop classifies the digit re-framed as MNIST's are: scaled so
	// that the larger side of the bounding box of its ink (pixels above
	// −0.5) is 20 pixels, its centre of mass at the centre of the 32×32
	// image (a 28×28 MNIST image's centre, padded).
	FrameCrop = "crop"
)

// Thresholds are the boundaries between the values of the column, row and
// stroke measured on digits of one measured size.
type Thresholds struct {
	X      [2]float64 `json:"x"`      // left|centre and centre|right, on Geometry.X
	Y      [2]float64 `json:"y"`      // top|middle and middle|bottom, on Geometry.Y
	Stroke [2]float64 `json:"stroke"` // thin|normal and normal|thick, on Geometry.Stroke
}

// Calibration records what a Measurer was fitted on.
type Calibration struct {
	Images int `json:"images"`
	// DigitWhole and DigitCrop are the classifier's accuracies on the
	// calibration images in either framing; the better one is used.
	DigitWhole float64 `json:"digit_whole"`
	DigitCrop  float64 `json:"digit_crop"`
}

// Measurer reads the attributes of 32×32 images in [−1, 1] from their
// pixels: the digit with the shipped MNIST classifier
// (metrics.MNISTClassifier), the size from the ink's height, the column
// and row from its centre of mass and the stroke from its width (see
// Geometry), against thresholds fitted by Calibrate. Its JSON form (Save,
// LoadMeasurer) holds the thresholds; the classifier ships with package
// metrics. A Measurer is not safe for concurrent use.
type Measurer struct {
	Kind    string `json:"kind"` // MeasurerKind
	Version int    `json:"version"`
	// Framing is how the classifier sees a digit: FrameWhole or FrameCrop.
	Framing string `json:"digit_framing"`
	// LargeHeight divides the sizes: digits whose Geometry.Height exceeds
	// it are large.
	LargeHeight float64 `json:"large_height"`
	// Small and Large hold the other thresholds for digits measured small
	// and large.
	Small       Thresholds  `json:"small"`
	Large       Thresholds  `json:"large"`
	Calibration Calibration `json:"calibration"`

	clf *metrics.Classifier
	rs  resampler
}

// MeasurerKind and MeasurerVersion identify a Measurer's JSON file.
const (
	MeasurerKind    = "captions-measurer"
	MeasurerVersion = 1
)

// MinCalibration is the least number of images Calibrate takes.
const MinCalibration = 100

// Calibrate fits a Measurer's thresholds on a set's images and true
// attributes: the height between the sizes, then, on the digits of each
// measured size, the column, row and stroke boundaries between neighbouring
// values, each at the value that classifies the most images of the two
// values right (the middle of the best range when several do). It keeps
// the classifier's framing that is more accurate on the set.
func Calibrate(set *Set) (*Measurer, error) {
	if err := checkSet(set); err != nil {
		return nil, err
	}
	n := set.Len()
	if n < MinCalibration {
		return nil, fmt.Errorf("captions: calibrating on %d images of %s; it takes at least %d", n, set.Images.Name, MinCalibration)
	}
	x := make([]float32, n*Side*Side)
	set.Images.Batch(seq(n), x, nil)
	geo := make([]Geometry, n)
	for i := range n {
		g, err := MeasureGeometry(x[i*Side*Side : (i+1)*Side*Side])
		if err != nil {
			return nil, fmt.Errorf("captions: %s image %d: %w", set.Images.Name, i, err)
		}
		geo[i] = g
	}
	m := &Measurer{Kind: MeasurerKind, Version: MeasurerVersion, Calibration: Calibration{Images: n}}
	var err error
	heights := func(s Size) []float64 {
		var v []float64
		for i, g := range geo {
			if set.Attrs[i].Size == s {
				v = append(v, g.Height)
			}
		}
		return v
	}
	if m.LargeHeight, err = fitThreshold(heights(Small), heights(Large)); err != nil {
		return nil, fmt.Errorf("captions: calibrating the size on %s: %w", set.Images.Name, err)
	}
	for _, sz := range []Size{Small, Large} {
		th := &m.Small
		if sz == Large {
			th = &m.Large
		}
		var xs, ys, ss [4][]float64 // by true value
		for i, g := range geo {
			if m.size(g) != sz {
				continue
			}
			a := set.Attrs[i]
			xs[a.H] = append(xs[a.H], g.X)
			ys[a.V] = append(ys[a.V], g.Y)
			ss[a.Stroke] = append(ss[a.Stroke], g.Stroke)
		}
		for _, f := range []struct {
			what string
			v    *[4][]float64
			t    *[2]float64
		}{{"column", &xs, &th.X}, {"row", &ys, &th.Y}, {"stroke", &ss, &th.Stroke}} {
			for k := range 2 {
				if f.t[k], err = fitThreshold(f.v[k+1], f.v[k+2]); err != nil {
					return nil, fmt.Errorf("captions: calibrating the %s of %s digits on %s: %w", f.what, sz, set.Images.Name, err)
				}
			}
		}
	}
	labels := make([]int, n)
	for i, a := range set.Attrs {
		labels[i] = a.Digit
	}
	for _, fr := range []string{FrameWhole, FrameCrop} {
		m.Framing = fr
		d, err := m.digits(x, geo)
		if err != nil {
			return nil, err
		}
		ok := 0
		for i := range d {
			if d[i] == labels[i] {
				ok++
			}
		}
		acc := float64(ok) / float64(n)
		if fr == FrameWhole {
			m.Calibration.DigitWhole = acc
		} else {
			m.Calibration.DigitCrop = acc
		}
	}
	m.Framing = FrameCrop
	if m.Calibration.DigitWhole > m.Calibration.DigitCrop {
		m.Framing = FrameWhole
	}
	return m, nil
}

// checkSet checks that a set's parts agree.
func checkSet(set *Set) error {
	if set == nil || set.Images == nil {
		return fmt.Errorf("captions: no set")
	}
	d := set.Images
	if d.C != 1 || d.H != Side || d.W != Side || d.Pad != 0 {
		return fmt.Errorf("captions: %s holds %d×%d×%d images padded by %d, want 1×32×32 unpadded", d.Name, d.C, d.H, d.W, d.Pad)
	}
	if len(d.U8)+len(d.F32) == 0 || d.Len() != len(set.Attrs) {
		return fmt.Errorf("captions: %s has %d images and %d attributes", d.Name, d.Len(), len(set.Attrs))
	}
	for i, a := range set.Attrs {
		if err := a.Valid(); err != nil {
			return fmt.Errorf("captions: %s image %d: %w", d.Name, i, err)
		}
	}
	return nil
}

// fitThreshold returns the threshold that best puts lo's values below it
// and hi's above.
func fitThreshold(lo, hi []float64) (float64, error) {
	if len(lo) == 0 || len(hi) == 0 {
		return 0, fmt.Errorf("%d and %d images of the two values: each needs some", len(lo), len(hi))
	}
	type item struct {
		v  float64
		hi bool
	}
	all := make([]item, 0, len(lo)+len(hi))
	for _, v := range lo {
		all = append(all, item{v, false})
	}
	for _, v := range hi {
		all = append(all, item{v, true})
	}
	slices.SortFunc(all, func(a, b item) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	// A cut before position k puts all[:k] below. right counts the values
	// it classifies right; cuts lie only between distinct values.
	right := len(hi)
	best, cuts := right, []int{0}
	for k := 1; k <= len(all); k++ {
		if all[k-1].hi {
			right--
		} else {
			right++
		}
		if k < len(all) && all[k].v == all[k-1].v {
			continue
		}
		switch {
		case right > best:
			best, cuts = right, []int{k}
		case right == best:
			cuts = append(cuts, k)
		}
	}
	k := cuts[len(cuts)/2]
	switch k {
	case 0:
		return all[0].v - 0.5, nil
	case len(all):
		return all[k-1].v + 0.5, nil
	}
	return (all[k-1].v + all[k].v) / 2, nil
}

// size returns the measured size of a geometry.
func (m *Measurer) size(g Geometry) Size {
	if g.Height > m.LargeHeight {
		return Large
	}
	return Small
}

// Attrs returns the attributes a geometry and a digit read as. Without ink
// all but the digit are Any.
func (m *Measurer) Attrs(g Geometry, digit int) Attrs {
	a := Attrs{Digit: digit}
	if !g.Ink {
		return a
	}
	a.Size = m.size(g)
	th := m.Small
	if a.Size == Large {
		th = m.Large
	}
	cut := func(v float64, t [2]float64) int8 {
		switch {
		case v <= t[0]:
			return 1
		case v <= t[1]:
			return 2
		}
		return 3
	}
	a.H = HPos(cut(g.X, th.X))
	a.V = VPos(cut(g.Y, th.Y))
	a.Stroke = Stroke(cut(g.Stroke, th.Stroke))
	return a
}

// Measure returns the attributes of n 32×32 images in [−1, 1] (n·Side·Side
// values), as read from their pixels. An image without ink (no pixel above
// mid-grey) reads as digit −1 and Any for the rest: it has no attribute a
// prompt can name. A NaN or infinite pixel is an error.
func (m *Measurer) Measure(images []float32, n int) ([]Attrs, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, fmt.Errorf("captions: %d images: the number must be positive", n)
	}
	if len(images) != n*Side*Side {
		return nil, fmt.Errorf("captions: %d values for %d 32×32 images", len(images), n)
	}
	geo := make([]Geometry, n)
	for i := range n {
		g, err := MeasureGeometry(images[i*Side*Side : (i+1)*Side*Side])
		if err != nil {
			return nil, fmt.Errorf("captions: image %d: %w", i, err)
		}
		geo[i] = g
	}
	digits, err := m.digits(images, geo)
	if err != nil {
		return nil, err
	}
	out := make([]Attrs, n)
	for i, g := range geo {
		out[i] = m.Attrs(g, digits[i])
		if !g.Ink {
			out[i].Digit = -1
		}
	}
	return out, nil
}

// digits classifies the images in the measurer's framing, in chunks.
func (m *Measurer) digits(images []float32, geo []Geometry) ([]int, error) {
	if m.clf == nil {
		c, err := metrics.MNISTClassifier()
		if err != nil {
			return nil, fmt.Errorf("captions: %w", err)
		}
		m.clf = c
	}
	const chunk = 1024
	n := len(geo)
	out := make([]int, 0, n)
	var buf []float32
	for i := 0; i < n; i += chunk {
		b := min(chunk, n-i)
		x := images[i*Side*Side : (i+b)*Side*Side]
		if m.Framing == FrameCrop {
			if buf == nil {
				buf = make([]float32, min(chunk, n)*Side*Side)
			}
			for j := range b {
				m.crop(x[j*Side*Side:(j+1)*Side*Side], geo[i+j], buf[j*Side*Side:(j+1)*Side*Side])
			}
			x = buf[:b*Side*Side]
		}
		p, err := m.clf.Predict(x, b)
		if err != nil {
			return nil, fmt.Errorf("captions: classifying images %d to %d: %w", i, i+b-1, err)
		}
		for _, d := range p {
			out = append(out, int(d))
		}
	}
	return out, nil
}

// crop writes img re-framed as FrameCrop describes into dst; an image
// without ink is copied.
func (m *Measurer) crop(img []float32, g Geometry, dst []float32) {
	x0, y0, x1, y1 := Side, Side, -1, -1
	for y := range Side {
		for x := range Side {
			if img[y*Side+x] > -0.5 { // any ink
				x0, x1 = min(x0, x), max(x1, x)
				y0, y1 = min(y0, y), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		copy(dst, img)
		return
	}
	var q [Side * Side]float32
	for k, v := range img {
		q[k] = min(max((v+1)/2, 0), 1)
	}
	scale := 20 / float64(max(x1-x0+1, y1-y0+1))
	m.rs.run(q[:], Side, Side, scale, g.X, g.Y, Side/2, Side/2, dst)
	for k, v := range dst {
		dst[k] = 2*min(max(v, 0), 1) - 1
	}
}

// check validates the thresholds.
func (m *Measurer) check() error {
	if m == nil {
		return fmt.Errorf("captions: no measurer")
	}
	if m.Kind != MeasurerKind || m.Version != MeasurerVersion {
		return fmt.Errorf("captions: measurer of kind %q version %d, want %q version %d", m.Kind, m.Version, MeasurerKind, MeasurerVersion)
	}
	if m.Framing != FrameWhole && m.Framing != FrameCrop {
		return fmt.Errorf("captions: measurer digit framing %q is not %q or %q", m.Framing, FrameWhole, FrameCrop)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if !finite(m.LargeHeight) {
		return fmt.Errorf("captions: measurer size threshold %g", m.LargeHeight)
	}
	for _, s := range []struct {
		name string
		t    Thresholds
	}{{"small", m.Small}, {"large", m.Large}} {
		for _, p := range []struct {
			what string
			v    [2]float64
		}{{"column", s.t.X}, {"row", s.t.Y}, {"stroke", s.t.Stroke}} {
			if !finite(p.v[0]) || !finite(p.v[1]) || p.v[0] > p.v[1] {
				return fmt.Errorf("captions: measurer %s thresholds of %s digits %v are not finite and increasing", p.what, s.name, p.v)
			}
		}
	}
	return nil
}

// Accuracy is how often a Measurer reads the true attributes of real
// images: the ceiling of the adherence of generated ones.
type Accuracy struct {
	Images int     `json:"images"`
	Digit  float64 `json:"digit"`
	Size   float64 `json:"size"`
	Stroke float64 `json:"stroke"`
	H      float64 `json:"column"`
	V      float64 `json:"row"`
	// All is the share of images with every attribute read right.
	All float64 `json:"all"`
}

// String formats the accuracies.
func (a Accuracy) String() string {
	return fmt.Sprintf("%d images: digit %.4f, size %.4f, stroke %.4f, column %.4f, row %.4f, all %.4f", a.Images, a.Digit, a.Size, a.Stroke, a.H, a.V, a.All)
}

// Accuracy measures a set's images (held out from calibration) and returns
// the share of each attribute read right.
func (m *Measurer) Accuracy(set *Set) (Accuracy, error) {
	if err := m.check(); err != nil {
		return Accuracy{}, err
	}
	if err := checkSet(set); err != nil {
		return Accuracy{}, err
	}
	n := set.Len()
	acc := Accuracy{Images: n}
	const chunk = 4096
	x := make([]float32, min(chunk, n)*Side*Side)
	for i := 0; i < n; i += chunk {
		b := min(chunk, n-i)
		set.Images.Batch(seq(b, i), x[:b*Side*Side], nil)
		got, err := m.Measure(x[:b*Side*Side], b)
		if err != nil {
			return Accuracy{}, fmt.Errorf("captions: %s: %w", set.Images.Name, err)
		}
		for j, g := range got {
			t := set.Attrs[i+j]
			acc.Digit += b2f(g.Digit == t.Digit)
			acc.Size += b2f(g.Size == t.Size)
			acc.Stroke += b2f(g.Stroke == t.Stroke)
			acc.H += b2f(g.H == t.H)
			acc.V += b2f(g.V == t.V)
			acc.All += b2f(g == t)
		}
	}
	for _, v := range []*float64{&acc.Digit, &acc.Size, &acc.Stroke, &acc.H, &acc.V, &acc.All} {
		*v /= float64(n)
	}
	return acc, nil
}

// Save writes the measurer's thresholds to a JSON file, atomically.
func (m *Measurer) Save(path string) error {
	if err := m.check(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return fsutil.WriteJSON(path, m)
}

// LoadMeasurer reads a measurer saved by Save; the classifier is the
// shipped one.
func LoadMeasurer(path string) (*Measurer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Measurer
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// seq returns start, start+1, … (n values; start 0 when not given).
func seq(n int, start ...int) []int {
	s := 0
	if len(start) > 0 {
		s = start[0]
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = s + i
	}
	return idx
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
