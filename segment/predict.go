package segment

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/weightio"
	"github.com/clockwork-go/clockwork/nn"
)

// Files of a model directory.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// Save writes the model into dir (config.json and model.safetensors, the
// batch norms' running statistics among the weights), each file
// atomically.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteJSON(filepath.Join(dir, ConfigFile), m.Config); err != nil {
		return err
	}
	return weightio.SaveParams(filepath.Join(dir, WeightsFile), m.All())
}

// Load reads a model directory written by Save.
func Load(dir string) (*Model, error) {
	cfg, err := ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a segmentation model directory (no %s)", dir, ConfigFile)
		}
		return nil, err
	}
	m, err := New(cfg, 0)
	if err != nil {
		return nil, err
	}
	if err := weightio.LoadParams(filepath.Join(dir, WeightsFile), m.All()); err != nil {
		return nil, err
	}
	return m, nil
}

// Predictor runs a model in evaluation mode (batch norms on their running
// statistics), compiling it once per input shape.
type Predictor struct {
	m     *Model
	funcs nn.Funcs
}

// NewPredictor returns a predictor of m. It reads m's parameters when
// called, so a model still training can be evaluated between steps.
func NewPredictor(m *Model) *Predictor {
	p := &Predictor{m: m}
	p.funcs.Def = func(shapes [][]int) nn.FuncDef {
		return nn.FuncDef{
			Frozen: []*nn.Params{m.Params, m.Buffers},
			Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
				return []*G.Node{m.Logits(g, in[0], false)}, nil
			},
		}
	}
	return p
}

// Logits runs the network on x (n, InChannels, s, s), s a size that fits,
// and returns its class scores (n, Classes, s', s'), valid until the next
// call.
func (p *Predictor) Logits(x []float32, n, s int) ([]float32, int, error) {
	c := p.m.Config
	out, err := c.OutputSize(s)
	if err != nil {
		return nil, 0, err
	}
	if len(x) != n*c.InChannels*s*s {
		return nil, 0, fmt.Errorf("segment: %d values for %d images of %d×%d×%d", len(x), n, c.InChannels, s, s)
	}
	var res []*tensor.Dense
	if err := nn.Build(func() error {
		var err error
		res, err = p.funcs.Call(tensor.New(tensor.WithShape(n, c.InChannels, s, s), tensor.WithBacking(x)))
		return err
	}); err != nil {
		return nil, 0, err
	}
	return res[0].Float32s(), out, nil
}

// maxOnePiece is the largest image side Predict runs in one piece when
// no tile is given; larger images go in tiles of this many output pixels.
const maxOnePiece = 1024

// groupPixels bounds the input pixels of the images Predict runs through
// the network at once (a group's activations are kept for the pass).
const groupPixels = 1 << 18

// Predict returns the class scores (n, Classes, h, w) of images x (n,
// InChannels, h, w) of any size, by the overlap-tile strategy of
// Ronneberger et al. (their Fig. 2): the image is extended by mirroring,
// cut into tiles of at most tile×tile output pixels (0: one tile covering
// the whole image, up to 1024 pixels a side) whose inputs carry the
// context the network needs, and the outputs put together.
//
// Under valid padding every output pixel sees the same input pixels
// whatever the tiling, and the network is equivariant to shifts by
// multiples of 2^Depth only (where the poolings' windows fall), so the
// tiles step by such a multiple: a tiled prediction is the one-piece
// prediction up to the order of floating-point sums. Under same padding
// one piece is the image itself, as in training (mirrored up to the next
// size that fits), and each of several tiles carries a context of
// 2^Depth·2 pixels on each side (TileContext), so that a tiled prediction
// approximates the one-piece one.
func (p *Predictor) Predict(x []float32, n, h, w, tile int) ([]float32, error) {
	c := p.m.Config
	if h < 1 || w < 1 || n < 1 {
		return nil, fmt.Errorf("segment: cannot predict %d images of %d×%d", n, h, w)
	}
	if len(x) != n*c.InChannels*h*w {
		return nil, fmt.Errorf("segment: %d values for %d images of %d×%d×%d", len(x), n, c.InChannels, h, w)
	}
	if tile <= 0 {
		tile = min(max(h, w), maxOnePiece)
	}
	align := 1 << c.Depth
	var border, in, step int
	switch {
	case c.Valid():
		border = c.Border()
		for in = c.InputFor(max(tile, align)); ; in = c.NextInput(in + 1) {
			out, _ := c.fits(in)
			if step = out - out%align; step >= min(tile, max(h, w)) {
				break
			}
		}
	case tile >= max(h, w):
		in = c.NextInput(max(h, w))
		step = in
	default:
		border = c.TileContext()
		in = c.NextInput(max(tile, align) + 2*border)
		step = in - 2*border
	}
	rows, cols := (h+step-1)/step, (w+step-1)/step
	k := c.Classes
	res := make([]float32, n*k*h*w)
	group := max(1, min(n, groupPixels/(in*in)))
	buf := make([]float32, group*c.InChannels*in*in)
	for g0 := 0; g0 < n; g0 += group {
		g := min(group, n-g0)
		for ty := range rows {
			for tx := range cols {
				y0, x0 := ty*step-border, tx*step-border
				for i := range g {
					for ch := range c.InChannels {
						mirrorWindow(buf[(i*c.InChannels+ch)*in*in:], x[((g0+i)*c.InChannels+ch)*h*w:], h, w, y0, x0, in, identity)
					}
				}
				z, zs, err := p.Logits(buf[:g*c.InChannels*in*in], g, in)
				if err != nil {
					return nil, err
				}
				off := (zs - in + 2*border) / 2 // same padding: the context around the tile
				for i := range g {
					for cl := range k {
						src := z[(i*k+cl)*zs*zs:]
						dst := res[((g0+i)*k+cl)*h*w:]
						for y := range min(step, h-ty*step) {
							oy := ty*step + y
							m := min(step, w-tx*step)
							copy(dst[oy*w+tx*step:oy*w+tx*step+m], src[(y+off)*zs+off:(y+off)*zs+off+m])
						}
					}
				}
			}
		}
	}
	return res, nil
}

// mirrorWindow fills dst (in×in) with the window of the image src (h×w)
// whose top-left corner is at row y0 and column x0, the image mirrored
// about its edges outside it (reflect), each value mapped by f: the
// overlap-tile strategy's input tile, and a training scene's input.
func mirrorWindow[T uint8 | float32](dst []float32, src []T, h, w, y0, x0, in int, f func(T) float32) {
	for y := range in {
		row := src[reflect(y0+y, h)*w:]
		for xx := range in {
			dst[y*in+xx] = f(row[reflect(x0+xx, w)])
		}
	}
}

// identity is mirrorWindow's map for values taken as they are.
func identity(v float32) float32 { return v }

// reflect maps a coordinate to [0, n) by mirroring about the edges
// (…, 2, 1, 0, 1, 2, …, n−1, n−2, …), repeatedly when far out.
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i
}

// Argmax returns the class of every pixel of scores (n, k, h·w pixels).
func Argmax(z []float32, n, k, pixels int) []uint8 {
	m := make([]uint8, n*pixels)
	for i := range n {
		for j := range pixels {
			best, bv := 0, float32(math.Inf(-1))
			for c := range k {
				if v := z[(i*k+c)*pixels+j]; v > bv {
					best, bv = c, v
				}
			}
			m[i*pixels+j] = uint8(best)
		}
	}
	return m
}
