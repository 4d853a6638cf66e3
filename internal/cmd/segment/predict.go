package segment

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/plots"
	"github.com/clockwork-go/clockwork/scenes"
	"github.com/clockwork-go/clockwork/segment"
)

// runPredict segments an .npz's images.
func runPredict(c *cli.Command, modelDir, input, output string, tile int) int {
	if input == "" {
		return c.Usage("-predict needs -input")
	}
	if filepath.Ext(output) != ".npz" {
		return c.Usage("-output %s: want an .npz file", output)
	}
	if tile < 0 {
		return c.Usage("-tile %d: want 0 (one piece) or a positive side", tile)
	}
	png := strings.TrimSuffix(output, ".npz") + ".png"
	if err := cli.CheckOutFiles("-output", output, "-output's overlay", png); err != nil {
		return c.Fail(err)
	}
	m, err := load(modelDir)
	if err != nil {
		return c.Fail(err)
	}
	arrays, err := npzio.Read(input)
	if err != nil {
		return c.Fail(fmt.Errorf("-input: %w", err))
	}
	a, ok := arrays["images"]
	if !ok {
		return c.Fail(fmt.Errorf("-input %s holds no images array", input))
	}
	if len(a.Shape) != 4 || a.Shape[0] < 1 || a.Shape[2] < 1 || a.Shape[3] < 1 {
		return c.Fail(fmt.Errorf("-input %s: images have shape %v, want (N, C, H, W)", input, a.Shape))
	}
	nImg, ch, h, w := a.Shape[0], a.Shape[1], a.Shape[2], a.Shape[3]
	if ch != m.Config.InChannels {
		return c.Fail(fmt.Errorf("-input %s: images have %d channels; %s takes %d", input, ch, modelDir, m.Config.InChannels))
	}
	x := a.Floats()
	if x == nil {
		return c.Fail(fmt.Errorf("-input %s: images have dtype %s, want a float type", input, a.Dtype()))
	}
	for j, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < -1.001 || v > 1.001 {
			return c.Fail(fmt.Errorf("-input %s: images value %v at flat index %d: want finite values in [−1, 1]", input, v, j))
		}
	}
	if int64(nImg)*int64(m.Config.Classes)*int64(h)*int64(w) > 1<<31 {
		return c.Fail(fmt.Errorf("-input %s: %d images of %d×%d make class scores beyond memory; split the input", input, nImg, h, w))
	}
	var truth []uint8
	if ma, ok := arrays["masks"]; ok {
		if truth, err = readMasks(input, "masks", ma, nImg, h, w, m.Config.Classes); err != nil {
			return c.Fail(err)
		}
	}
	outTile := 0
	if tile > 0 {
		if outTile, err = m.Config.TileOutput(tile); err != nil {
			return c.Fail(fmt.Errorf("-tile %d: %s", tile, strings.TrimPrefix(err.Error(), "segment: ")))
		}
	}
	start := time.Now()
	z, err := segment.NewPredictor(m).Predict(x, nImg, h, w, outTile)
	if err != nil {
		return c.Fail(err)
	}
	masks := segment.Argmax(z, nImg, m.Config.Classes, h*w)
	el := time.Since(start)
	// Measured before anything is written, so that a failure leaves nothing.
	var rep *segment.Report
	if truth != nil && h == w {
		inst := make([]uint8, len(truth))
		if ia, ok := arrays["instances"]; ok {
			if inst, err = readMasks(input, "instances", ia, nImg, h, w, 256); err != nil {
				return c.Fail(err)
			}
		}
		set := &scenes.Set{Config: scenes.Config{Size: h}, Images: make([]uint8, len(truth)), Semantic: truth, Instance: inst, Digits: make([][]scenes.Digit, nImg)}
		r, err := segment.Evaluate(set, masks, 200, 0)
		if err != nil {
			return c.Fail(err)
		}
		rep = &r
	}
	ids := make([]int64, len(masks))
	for j, v := range masks {
		ids[j] = int64(v)
	}
	if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
		return c.Fail(err)
	}
	if err := npzio.Write(output, []string{"masks"}, map[string]npzio.Array{"masks": npzio.Int64(ids, nImg, h, w)}); err != nil {
		return c.Fail(err)
	}
	// The overlay: per image, the input, the prediction (and the truth).
	cols := 2
	if truth != nil {
		cols = 3
	}
	rows := min(nImg, 16)
	fig := make([]float32, 0, rows*cols*3*h*w)
	for i := range rows {
		img := x[i*ch*h*w : i*ch*h*w+h*w]
		fig = append(fig, segment.Overlay(img, make([]uint8, h*w))...)
		fig = append(fig, segment.Overlay(img, masks[i*h*w:(i+1)*h*w])...)
		if truth != nil {
			fig = append(fig, segment.Overlay(img, truth[i*h*w:(i+1)*h*w])...)
		}
	}
	if err := plots.SaveGridPNG(png, fig, rows*cols, 3, h, w, cols, max(1, 128/max(h, w))); err != nil {
		return c.Fail(err)
	}
	how := "in one piece"
	if tile > 0 {
		how = fmt.Sprintf("in tiles of %d input and %d output pixels", tile, outTile)
	}
	c.Printf("segmented %d images of %d×%d %s in %s; wrote %s and %s\n", nImg, h, w, how, el.Round(time.Millisecond), output, png)
	switch {
	case rep != nil:
		rep.WriteTable(c.Stdout)
	case truth != nil:
		c.Printf("the masks were not measured: the measures need square images, these are %d×%d\n", h, w)
	}
	return 0
}

// readMasks checks an integer mask array (N, H, W) with ids below limit.
func readMasks(input, key string, a npzio.Array, n, h, w, limit int) ([]uint8, error) {
	if len(a.Shape) != 3 || a.Shape[0] != n || a.Shape[1] != h || a.Shape[2] != w {
		return nil, fmt.Errorf("-input %s: %s have shape %v, want (%d, %d, %d) as the images", input, key, a.Shape, n, h, w)
	}
	var vals []int64
	switch {
	case a.I64 != nil:
		vals = a.I64
	case a.U8 != nil:
		for _, v := range a.U8 {
			vals = append(vals, int64(v))
		}
	default:
		return nil, fmt.Errorf("-input %s: %s have dtype %s, want integers", input, key, a.Dtype())
	}
	out := make([]uint8, len(vals))
	for j, v := range vals {
		if v < 0 || v >= int64(limit) || v > 255 {
			return nil, fmt.Errorf("-input %s: %s hold class id %d at flat index %d, out of range [0, %d)", input, key, v, j, min(limit, 256))
		}
		out[j] = uint8(v)
	}
	return out, nil
}
