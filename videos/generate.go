package videos

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/edits"
)

// The bounds of a video's length.
const (
	MinFrames = 8
	MaxFrames = 32
)

// The bounds of the motion, per frame: the speed of the centre of mass
// (pixels), the angular speed (degrees) and, over the whole video, the
// change of the digit's scale.
const (
	minSpeed, maxSpeed = 0.5, 1.5
	maxSpin            = 1.5
	maxZoomChange      = 0.15
)

// Frame is where the digit is in one frame: its centre of mass (pixels,
// pixel centres at k+0.5), its rotation (degrees, counter-clockwise as
// seen) and its scale against the digit's size.
type Frame struct {
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Angle float64 `json:"angle"`
	Zoom  float64 `json:"zoom"`
}

// Video is one toy video and its true edit: the same digit along the same
// motion, drawn before and after the instruction.
type Video struct {
	// Source and Target are the frames, T·32·32 bytes each (0 background,
	// 255 ink).
	Source, Target []uint8
	Instruction    edits.Instruction
	// Phrase is the instruction as drawn.
	Phrase        string
	Before, After captions.Attrs
	// Motion is the digit's place in each frame; the target adds the
	// instruction's rotation (EditAngle) to every frame's angle.
	Motion    []Frame
	EditAngle float64
}

// Frames returns the number of frames.
func (v *Video) Frames() int { return len(v.Motion) }

// Set is a set of toy videos of the same length.
type Set struct {
	Videos []Video
	T      int
}

// Instructions returns the edit instructions a video can take: those of
// package edits that change the stroke, the size or the rotation. A move
// of the column or the row is left out: a digit already moving about the
// whole frame has no column or row to move to.
func Instructions() []edits.Instruction {
	var out []edits.Instruction
	for _, in := range edits.All() {
		if in[edits.Column] == 0 && in[edits.Row] == 0 {
			out = append(out, in)
		}
	}
	return out
}

// Generate draws n videos of frames frames from src (labelled 1×28×28
// MNIST-like digits), video i from a generator seeded with (seed, i)
// alone: a small or large digit of some stroke (captions.DrawLayout), an
// instruction of the mix that applies to it (Instructions; the held-out
// ones only in edits.TestMix), and a motion: a start anywhere the digit
// fits, a straight path at 0.5 to 1.5 pixels per frame that bounces off
// the edges of the region where the digit, before and after the edit,
// stays whole in the frame (as Moving MNIST's digits bounce), a rotation
// of up to ±1.5° per frame and a steady change of scale of up to ±15% over
// the video. Source and target are drawn frame by frame with the
// captioned digits' renderer.
func Generate(src *datasets.Images, n, frames int, seed uint64, mix edits.Mix) (*Set, error) {
	if n <= 0 {
		return nil, fmt.Errorf("videos: %d videos: the number must be positive", n)
	}
	if frames < MinFrames || frames > MaxFrames {
		return nil, fmt.Errorf("videos: %d frames: want %d to %d", frames, MinFrames, MaxFrames)
	}
	d, err := captions.NewDrawer(src)
	if err != nil {
		return nil, err
	}
	var one, seen, held []edits.Instruction
	for _, in := range Instructions() {
		switch edits.KindOf(in) {
		case edits.KindOne:
			one = append(one, in)
		case edits.KindHeldOut:
			held = append(held, in)
		default:
			seen = append(seen, in)
		}
	}
	groups := [][]edits.Instruction{one, seen}
	if mix == edits.TestMix {
		groups = append(groups, held)
	}
	s := &Set{Videos: make([]Video, n), T: frames}
	for i := range n {
		v, err := draw(d, groups, frames, seed, i)
		if err != nil {
			return nil, err
		}
		s.Videos[i] = v
	}
	return s, nil
}

// draw makes video i.
func draw(d *captions.Drawer, groups [][]edits.Instruction, frames int, seed uint64, i int) (Video, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(i)^0x766964656f73)) // "videos"
	const tries = 200
	group := groups[rng.IntN(len(groups))]
	for t := 0; t < tries; t++ {
		dr := captions.DrawLayout(rng)
		dr.DX, dr.DY = 0, 0
		var ok []edits.Instruction
		for _, in := range group {
			if in.Applies(dr.Attrs) {
				ok = append(ok, in)
			}
		}
		if len(ok) == 0 {
			continue
		}
		in := ok[rng.IntN(len(ok))]
		after, editAngle := in.Apply(dr.Attrs)
		dr.Source = rng.IntN(d.Sources())
		spin := (2*rng.Float64() - 1) * maxSpin
		zoomEnd := 1 + (2*rng.Float64()-1)*maxZoomChange
		speed := minSpeed + (maxSpeed-minSpeed)*rng.Float64()
		dir := 2 * math.Pi * rng.Float64()
		u, w := rng.Float64(), rng.Float64()
		swap := rng.IntN(2) == 1
		// The region where the centre of mass may go: the digit, before and
		// after the edit, at every angle and scale of the video, whole.
		last := spin * float64(frames-1)
		reach := [4]float64{}
		fits := true
		for _, a := range []captions.Attrs{dr.Attrs, after} {
			for _, ang := range []float64{0, last / 2, last, editAngle, last + editAngle} {
				for _, z := range []float64{1, zoomEnd} {
					q := dr
					q.Attrs, q.Angle, q.Zoom = a, ang, z
					e, good, err := d.Extent(q)
					if err != nil {
						return Video{}, fmt.Errorf("videos: video %d: %w", i, err)
					}
					if !good {
						fits = false
					}
					reach[0], reach[1] = math.Max(reach[0], -e[0]), math.Max(reach[1], -e[1])
					reach[2], reach[3] = math.Max(reach[2], e[2]), math.Max(reach[3], e[3])
				}
			}
		}
		const margin = 0.25
		x0, x1 := reach[0]+margin, captions.Side-reach[2]-margin
		y0, y1 := reach[1]+margin, captions.Side-reach[3]-margin
		if !fits || x1 <= x0 || y1 <= y0 {
			continue
		}
		v := Video{Instruction: in, Phrase: in.Phrase(swap), Before: dr.Attrs, After: after, EditAngle: editAngle,
			Motion: make([]Frame, frames), Source: make([]uint8, frames*captions.Side*captions.Side), Target: make([]uint8, frames*captions.Side*captions.Side)}
		v.Before.Digit, v.After.Digit = d.Label(dr.Source), d.Label(dr.Source)
		x, y := x0+(x1-x0)*u, y0+(y1-y0)*w
		vx, vy := speed*math.Cos(dir), speed*math.Sin(dir)
		drawn := true
		for f := range frames {
			v.Motion[f] = Frame{X: x, Y: y, Angle: spin * float64(f), Zoom: 1 + (zoomEnd-1)*float64(f)/float64(frames-1)}
			m := v.Motion[f]
			at := [2]float64{m.X, m.Y}
			q := dr
			q.Angle, q.Zoom, q.At = m.Angle, m.Zoom, &at
			const per = captions.Side * captions.Side
			okS, err := d.Draw(q, v.Source[f*per:(f+1)*per])
			if err != nil {
				return Video{}, fmt.Errorf("videos: video %d: %w", i, err)
			}
			q.Attrs, q.Angle = after, m.Angle+editAngle
			okT, err := d.Draw(q, v.Target[f*per:(f+1)*per])
			if err != nil {
				return Video{}, fmt.Errorf("videos: video %d: %w", i, err)
			}
			if !okS || !okT {
				drawn = false
				break
			}
			// Move, bouncing off the region's edges.
			x, vx = bounce(x+vx, vx, x0, x1)
			y, vy = bounce(y+vy, vy, y0, y1)
		}
		if drawn {
			return v, nil
		}
	}
	return Video{}, fmt.Errorf("videos: video %d: %d draws in a row found no digit and motion that fit", i, tries)
}

// bounce reflects position p (moving at v) into [lo, hi].
func bounce(p, v, lo, hi float64) (float64, float64) {
	for range 4 {
		switch {
		case p < lo:
			p, v = 2*lo-p, -v
		case p > hi:
			p, v = 2*hi-p, -v
		default:
			return p, v
		}
	}
	return math.Min(math.Max(p, lo), hi), v
}

// Seeds of the toy videos' splits: the train split draws MNIST's training
// digits and edits.TrainMix's instructions, the held-out split its test
// digits and edits.TestMix's.
const (
	TrainSeed = 1
	TestSeed  = 2
)
