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

// Predict returns the class scores (n, Classes, h, w) of images x (n,
// InChannels, h, w) of any size, by the overlap-tile strategy of
// Ronneberger et al. (their Fig. 2): the image is extended by mirroring,
// cut into tiles whose outputs are tile×tile pixels (0: one tile covering
// the whole image) and whose inputs carry the context valid padding
// consumes, and the outputs put together. Under valid padding every output
// pixel sees the same input pixels whatever the tiling, so a tiled
// prediction is the one-piece prediction up to the order of floating-point
// sums. Under same padding each tile carries a context of 2^Depth·2
// pixels on each side, and a tiled prediction approximates the one-piece
// one.
func (p *Predictor) Predict(x []float32, n, h, w, tile int) ([]float32, error) {
	c := p.m.Config
	if h < 1 || w < 1 || n < 1 {
		return nil, fmt.Errorf("segment: cannot predict %d images of %d×%d", n, h, w)
	}
	if len(x) != n*c.InChannels*h*w {
		return nil, fmt.Errorf("segment: %d values for %d images of %d×%d×%d", len(x), n, c.InChannels, h, w)
	}
	if tile <= 0 {
		tile = max(h, w)
	}
	border := c.Border()
	var in, out int
	if c.Valid() {
		in = c.InputFor(tile)
		out, _ = c.fits(in)
	} else {
		border = 2 << c.Depth
		if tile < max(h, w) {
			tile = max(tile, 1<<c.Depth)
		}
		in = c.NextInput(tile + 2*border)
		out = in - 2*border
	}
	if out < 1 {
		return nil, fmt.Errorf("segment: tile %d leaves no output", tile)
	}
	rows, cols := (h+out-1)/out, (w+out-1)/out
	k := c.Classes
	res := make([]float32, n*k*h*w)
	buf := make([]float32, n*c.InChannels*in*in)
	for ty := range rows {
		for tx := range cols {
			y0, x0 := ty*out-border, tx*out-border
			for i := range n {
				for ch := range c.InChannels {
					src := x[(i*c.InChannels+ch)*h*w:]
					dst := buf[(i*c.InChannels+ch)*in*in:]
					for y := range in {
						sy := reflect(y0+y, h)
						for xx := range in {
							dst[y*in+xx] = src[sy*w+reflect(x0+xx, w)]
						}
					}
				}
			}
			z, zs, err := p.Logits(buf, n, in)
			if err != nil {
				return nil, err
			}
			off := (zs - out) / 2 // same padding: the context around the tile
			for i := range n {
				for cl := range k {
					src := z[(i*k+cl)*zs*zs:]
					dst := res[(i*k+cl)*h*w:]
					for y := range out {
						oy := ty*out + y
						if oy >= h {
							break
						}
						for xx := range out {
							ox := tx*out + xx
							if ox >= w {
								break
							}
							dst[oy*w+ox] = src[(y+off)*zs+xx+off]
						}
					}
				}
			}
		}
	}
	return res, nil
}

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
