package captions

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/clockwork-go/clockwork/datasets"
)

// Drawing says how one image is drawn: the source digit, the attributes
// (the digit is the source's label), the jitter of the height and of the
// centre of mass in pixels (each within ±1), and a rotation.
type Drawing struct {
	Source     int // index of the source digit
	Attrs      Attrs
	DH, DX, DY float64
	// Angle rotates the digit about its centre of mass after its stroke is
	// set, in degrees, counter-clockwise as seen; the size is still set by
	// the unrotated ink's height. Generate draws every image at 0.
	Angle float64
	// At, when set, puts the centre of mass there (pixels, centres at
	// k+0.5) instead of the layout's cell and jitter, and a digit that
	// would then leave the canvas is not drawn rather than moved; Zoom,
	// when not 0, multiplies the scale the size sets. Videos draw a digit
	// along a trajectory with them.
	At   *[2]float64
	Zoom float64
}

// Drawer draws digits of a source set as Generate does, for data sets
// built on the captioned digits (the edit pairs of package edits draw the
// same source digit twice, with one attribute changed).
type Drawer struct {
	src *datasets.Images
	r   renderer
}

// NewDrawer returns a drawer of the digits of src: 1×28×28 labelled bytes,
// as Generate takes.
func NewDrawer(src *datasets.Images) (*Drawer, error) {
	if err := checkSource(src); err != nil {
		return nil, err
	}
	return &Drawer{src: src}, nil
}

// Sources returns the number of source digits.
func (d *Drawer) Sources() int { return d.src.Len() }

// Label returns the digit of source i.
func (d *Drawer) Label(i int) int { return int(d.src.Labels[i]) }

// Draw draws dr into dst (32×32 bytes) and reports whether it could: a
// source without ink, or one too wide for the canvas at the size (or,
// rotated, at the angle), draws nothing. Attrs.Digit is ignored (the
// source's label is the digit).
func (d *Drawer) Draw(dr Drawing, dst []uint8) (bool, error) {
	if dr.Source < 0 || dr.Source >= d.src.Len() {
		return false, fmt.Errorf("captions: source digit %d of %d", dr.Source, d.src.Len())
	}
	a := dr.Attrs
	a.Digit = d.Label(dr.Source)
	if err := a.Valid(); err != nil {
		return false, err
	}
	for _, v := range []float64{dr.DH, dr.DX, dr.DY} {
		if !(math.Abs(v) <= jitter) {
			return false, fmt.Errorf("captions: jitter %g is beyond ±%g pixels", v, jitter)
		}
	}
	if !(math.Abs(dr.Angle) <= 90) {
		return false, fmt.Errorf("captions: angle %g is beyond ±90 degrees", dr.Angle)
	}
	if dr.Zoom != 0 && !(dr.Zoom >= 0.25 && dr.Zoom <= 4) {
		return false, fmt.Errorf("captions: zoom %g is outside [0.25, 4]", dr.Zoom)
	}
	if dr.At != nil && !(math.Abs(dr.At[0]-Side/2) <= Side && math.Abs(dr.At[1]-Side/2) <= Side) {
		return false, fmt.Errorf("captions: centre %v is far outside the canvas", *dr.At)
	}
	d.r.at, d.r.zoom = dr.At, dr.Zoom
	defer func() { d.r.at, d.r.zoom = nil, 0 }()
	if len(dst) != Side*Side {
		return false, fmt.Errorf("captions: %d bytes are not a 32×32 image", len(dst))
	}
	j := dr.Source
	return d.r.render(d.src.U8[j*srcSide*srcSide:(j+1)*srcSide*srcSide], a, dr.DH, dr.DX, dr.DY, dr.Angle, dst), nil
}

// Extent returns how far the digit of dr reaches from its centre of mass
// when drawn, ignoring dr.At (left, top, right, bottom, in output pixels;
// left and top negative), or false when it cannot be drawn at its cell.
func (d *Drawer) Extent(dr Drawing) ([4]float64, bool, error) {
	var buf [Side * Side]uint8
	dr.At = nil
	ok, err := d.Draw(dr, buf[:])
	if err != nil || !ok {
		return [4]float64{}, false, err
	}
	p := d.r.placed
	return [4]float64{p.drawn[0] - p.com[0], p.drawn[1] - p.com[1], p.drawn[2] - p.com[0], p.drawn[3] - p.com[1]}, true, nil
}

// DrawLayout draws attributes and jitter from rng as Generate draws them
// for an image (the source digit and so the digit are left to the caller):
// uniform size, stroke, column and row, and jitters uniform in ±1 pixel.
func DrawLayout(rng *rand.Rand) Drawing {
	var dr Drawing
	a := &dr.Attrs
	a.Size = Small + Size(rng.IntN(2))
	a.Stroke = Thin + Stroke(rng.IntN(3))
	a.H = Left + HPos(rng.IntN(3))
	a.V = Top + VPos(rng.IntN(3))
	dr.DH = (2*rng.Float64() - 1) * jitter
	dr.DX = (2*rng.Float64() - 1) * jitter
	dr.DY = (2*rng.Float64() - 1) * jitter
	return dr
}
