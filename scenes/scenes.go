package scenes

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/clockwork-go/clockwork/datasets"
)

// Classes is the number of semantic classes: background and the ten digits.
const Classes = 11

// Ink is the intensity (of 255) from which a digit's pixel belongs to it.
const Ink = 128

// Seeds of the two splits' generators.
const (
	TrainSeed uint64 = 1
	TestSeed  uint64 = 2
)

// side is the size of an MNIST digit image.
const side = 28

// Config describes how scenes are drawn.
type Config struct {
	// Size is the side of the square canvas in pixels (at least 28).
	Size int
	// MinDigits and MaxDigits bound the digits of a scene (drawn uniformly).
	MinDigits, MaxDigits int
	// Touch is the probability that a digit after the first is placed
	// touching one already drawn (its ink 8-adjacent to the other's), and
	// Overlap the probability that such a digit is pushed on by two more
	// pixels so that the two overlap. The other digits are placed at
	// least three pixels from every ink pixel drawn, when a place can be
	// found.
	Touch, Overlap float64
}

// DefaultConfig is the data set's configuration: 64×64 scenes of two to
// four digits, half of them placed touching another, a quarter of those
// overlapping it.
func DefaultConfig() Config {
	return Config{Size: 64, MinDigits: 2, MaxDigits: 4, Touch: 0.5, Overlap: 0.25}
}

// Validate reports a configuration that cannot be drawn.
func (c Config) Validate() error {
	switch {
	case c.Size < side:
		return fmt.Errorf("scenes: canvas size %d is smaller than a digit (%d)", c.Size, side)
	case c.Size > 255*side:
		return fmt.Errorf("scenes: canvas size %d is too large", c.Size)
	case c.MinDigits < 1 || c.MaxDigits < c.MinDigits:
		return fmt.Errorf("scenes: digits per scene %d to %d: need 1 ≤ min ≤ max", c.MinDigits, c.MaxDigits)
	case c.MaxDigits > 254:
		return fmt.Errorf("scenes: %d digits per scene do not fit the instance mask's bytes", c.MaxDigits)
	case !(c.Touch >= 0 && c.Touch <= 1) || !(c.Overlap >= 0 && c.Overlap <= 1):
		return fmt.Errorf("scenes: probabilities touch %v and overlap %v must lie in [0, 1]", c.Touch, c.Overlap)
	}
	return nil
}

// Digit is one digit of a scene, in drawing order.
type Digit struct {
	Label  int // the digit, 0–9
	Source int // its index in the source images
	// X and Y are the column and row of the digit image's top-left corner
	// on the canvas.
	X, Y int
	// Placed says how it was placed: "free", "touching" or "overlapping"
	// (the intent; whether it touches in the final masks is what
	// TouchingPairs finds).
	Placed string
}

// Set is a set of scenes with their masks, each array scene-major with
// Size×Size bytes per scene.
type Set struct {
	// Name is the split ("train" or "test"), Config how the scenes were
	// drawn and Seed the split's seed.
	Name   string
	Config Config
	Seed   uint64
	// Images hold intensities 0–255; Semantic class ids (0 background,
	// d + 1 digit d); Instance ids (0 background, i + 1 the i-th digit).
	Images, Semantic, Instance []uint8
	// Digits are each scene's digits in the order drawn.
	Digits [][]Digit
}

// Len returns the number of scenes.
func (s *Set) Len() int { return len(s.Digits) }

// Pixels returns the number of pixels of a scene.
func (s *Set) Pixels() int { return s.Config.Size * s.Config.Size }

// Scene returns the image, semantic mask and instance mask of scene i
// (slices of the set's arrays).
func (s *Set) Scene(i int) (image, semantic, instance []uint8) {
	p := s.Pixels()
	return s.Images[i*p : (i+1)*p], s.Semantic[i*p : (i+1)*p], s.Instance[i*p : (i+1)*p]
}

// Subset returns the first n scenes (sharing memory).
func (s *Set) Subset(n int) *Set {
	n = min(n, s.Len())
	p := s.Pixels()
	sub := *s
	sub.Images, sub.Semantic, sub.Instance = s.Images[:n*p], s.Semantic[:n*p], s.Instance[:n*p]
	sub.Digits = s.Digits[:n]
	return &sub
}

// Batch writes the scenes idx as a (len(idx), 1, Size, Size) float32 batch
// in [−1, 1] into x and, when not nil, their semantic masks as float32
// class ids into labels (len(idx)·Size·Size).
func (s *Set) Batch(idx []int, x, labels []float32) {
	p := s.Pixels()
	for b, i := range idx {
		img, sem, _ := s.Scene(i)
		for j, v := range img {
			x[b*p+j] = float32(v)/127.5 - 1
		}
		if labels != nil {
			for j, v := range sem {
				labels[b*p+j] = float32(v)
			}
		}
	}
}

// Open draws n scenes of the default configuration from MNIST's "train"
// split (TrainSeed) or "test" split (TestSeed).
func Open(split string, n int) (*Set, error) {
	src, seed, err := source(split)
	if err != nil {
		return nil, err
	}
	s, err := Generate(src, n, DefaultConfig(), seed)
	if err != nil {
		return nil, err
	}
	s.Name = "scenes-" + split
	return s, nil
}

// OpenStream returns the unbounded stream of the split's scenes, whose
// first n are Open's.
func OpenStream(split string) (*Stream, error) {
	src, seed, err := source(split)
	if err != nil {
		return nil, err
	}
	return NewStream(src, DefaultConfig(), seed)
}

// source returns the MNIST split and seed of a scene split.
func source(split string) (*datasets.Images, uint64, error) {
	seed, ok := map[string]uint64{"train": TrainSeed, "test": TestSeed}[split]
	if !ok {
		return nil, 0, fmt.Errorf("scenes: split %q is not train or test", split)
	}
	src, err := datasets.MNIST(split, "", false)
	return src, seed, err
}

// Generate draws n scenes from src, MNIST-like digits (1×28×28 bytes with
// labels 0–9; padding on read is ignored).
func Generate(src *datasets.Images, n int, cfg Config, seed uint64) (*Set, error) {
	if n <= 0 {
		return nil, fmt.Errorf("scenes: %d scenes: the number must be positive", n)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src.U8 == nil || src.C != 1 || src.H != side || src.W != side || len(src.Labels) != src.Len() || src.Len() == 0 {
		return nil, fmt.Errorf("scenes: the source %q is not labelled 1×28×28 byte digits", src.Name)
	}
	st := &Stream{src: src, cfg: cfg, seed: seed}
	p := cfg.Size * cfg.Size
	s := &Set{
		Name: "scenes", Config: cfg, Seed: seed,
		Images: make([]uint8, n*p), Semantic: make([]uint8, n*p), Instance: make([]uint8, n*p),
		Digits: make([][]Digit, n),
	}
	for i := range n {
		img, sem, inst := s.Scene(i)
		s.Digits[i] = st.Draw(i, img, sem, inst)
	}
	return s, nil
}

// Stream draws scenes one at a time, for training on an unbounded set.
type Stream struct {
	src  *datasets.Images
	cfg  Config
	seed uint64
}

// NewStream returns a stream of scenes drawn from src with cfg and seed:
// scene i of the stream is scene i of Generate with the same arguments.
func NewStream(src *datasets.Images, cfg Config, seed uint64) (*Stream, error) {
	if _, err := Generate(src, 1, cfg, seed); err != nil {
		return nil, err
	}
	return &Stream{src: src, cfg: cfg, seed: seed}, nil
}

// Config returns the stream's configuration.
func (st *Stream) Config() Config { return st.cfg }

// Draw draws scene i into img, sem and inst (Size×Size bytes each, which it
// clears first) and returns its digits.
func (st *Stream) Draw(i int, img, sem, inst []uint8) []Digit {
	clear(img)
	clear(sem)
	clear(inst)
	rng := rand.New(rand.NewPCG(st.seed, uint64(i)^0x7363656e6573)) // "scenes"
	return draw(st.src, st.cfg, rng, img, sem, inst)
}

// draw draws one scene into img, sem and inst (zeroed) and returns its
// digits.
func draw(src *datasets.Images, cfg Config, rng *rand.Rand, img, sem, inst []uint8) []Digit {
	size := cfg.Size
	k := cfg.MinDigits + rng.IntN(cfg.MaxDigits-cfg.MinDigits+1)
	digits := make([]Digit, 0, k)
	for len(digits) < k {
		j := rng.IntN(src.Len())
		glyph := src.U8[j*side*side : (j+1)*side*side]
		d := Digit{Label: int(src.Labels[j]), Source: j, Placed: "free"}
		placed := false
		if len(digits) > 0 && rng.Float64() < cfg.Touch {
			push := 0
			if rng.Float64() < cfg.Overlap {
				push = 2
			}
			d.X, d.Y, placed = approach(glyph, inst, size, digits[rng.IntN(len(digits))], rng.Float64()*2*math.Pi, push)
			if placed {
				d.Placed = map[bool]string{false: "touching", true: "overlapping"}[push > 0]
			}
		}
		if !placed {
			// Free placement: the first place of 30 whose ink keeps three
			// pixels from every ink pixel drawn, else the last tried.
			for try := range 30 {
				d.X, d.Y = rng.IntN(size-side+1), rng.IntN(size-side+1)
				if near(glyph, inst, size, d.X, d.Y, 3) > 3 || try == 29 {
					break
				}
			}
		}
		id := uint8(len(digits) + 1)
		for y := range side {
			for x := range side {
				v := glyph[y*side+x]
				o := (d.Y+y)*size + d.X + x
				img[o] = max(img[o], v)
				if v >= Ink {
					sem[o] = uint8(d.Label + 1)
					inst[o] = id
				}
			}
		}
		digits = append(digits, d)
	}
	return digits
}

// approach moves a digit toward the centre of digit t from 30 pixels away
// along angle theta, one pixel at a time, until its ink touches ink
// already drawn (within one pixel, 8-adjacency), and then push pixels on.
// It reports false when no place on the canvas touches.
func approach(glyph, inst []uint8, size int, t Digit, theta float64, push int) (int, int, bool) {
	hi := size - side
	for r := 30.0; r >= 0; r-- {
		x := t.X + int(math.Round(r*math.Cos(theta)))
		y := t.Y + int(math.Round(r*math.Sin(theta)))
		if x < 0 || y < 0 || x > hi || y > hi {
			continue
		}
		if near(glyph, inst, size, x, y, 1) > 1 {
			continue
		}
		for p := push; p > 0; p-- {
			rr := r - float64(p)
			if rr < 0 {
				continue
			}
			px := t.X + int(math.Round(rr*math.Cos(theta)))
			py := t.Y + int(math.Round(rr*math.Sin(theta)))
			if px >= 0 && py >= 0 && px <= hi && py <= hi {
				return px, py, true
			}
		}
		return x, y, true
	}
	return 0, 0, false
}

// near returns the Chebyshev distance from the glyph's ink placed at (x0,
// y0) to the nearest ink already drawn, searched up to limit; limit + 1
// when there is none that close.
func near(glyph, inst []uint8, size, x0, y0, limit int) int {
	best := limit + 1
	for y := range side {
		for x := range side {
			if glyph[y*side+x] < Ink {
				continue
			}
			cx, cy := x0+x, y0+y
			for dy := -limit; dy <= limit; dy++ {
				for dx := -limit; dx <= limit; dx++ {
					d := max(abs(dx), abs(dy))
					if d >= best {
						continue
					}
					px, py := cx+dx, cy+dy
					if px < 0 || py < 0 || px >= size || py >= size {
						continue
					}
					if inst[py*size+px] != 0 {
						best = d
					}
				}
			}
		}
	}
	return best
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TouchingPairs returns the pairs of instance ids (a < b) of a size×size
// instance mask that touch: a pixel of one is 4-adjacent to a pixel of
// the other. A digit placed touching another (Config.Touch) may meet it
// only diagonally; such a pair is not counted, as a 4-connected region
// (the separation measure's) keeps the two apart anyway.
func TouchingPairs(inst []uint8, size int) [][2]uint8 {
	seen := map[[2]uint8]bool{}
	var pairs [][2]uint8
	add := func(a, b uint8) {
		if a == 0 || b == 0 || a == b {
			return
		}
		if a > b {
			a, b = b, a
		}
		if k := [2]uint8{a, b}; !seen[k] {
			seen[k] = true
			pairs = append(pairs, k)
		}
	}
	for y := range size {
		for x := range size {
			v := inst[y*size+x]
			if x+1 < size {
				add(v, inst[y*size+x+1])
			}
			if y+1 < size {
				add(v, inst[(y+1)*size+x])
			}
		}
	}
	return pairs
}
