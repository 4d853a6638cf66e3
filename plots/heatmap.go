package plots

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// viridis anchors (matplotlib's viridis, perceptually uniform and readable
// in greyscale and with colour-vision deficiencies), interpolated linearly.
var viridis = [][3]float64{
	{0.267, 0.005, 0.329}, {0.283, 0.141, 0.458}, {0.254, 0.265, 0.530}, {0.207, 0.372, 0.553},
	{0.164, 0.471, 0.558}, {0.128, 0.567, 0.551}, {0.135, 0.659, 0.518}, {0.267, 0.749, 0.441},
	{0.478, 0.821, 0.318}, {0.741, 0.873, 0.150}, {0.993, 0.906, 0.144},
}

// Viridis returns the colour of t ∈ [0, 1] on the viridis scale (values
// outside it are clamped; NaN, a missing value, is grey).
func Viridis(t float64) color.Color {
	if math.IsNaN(t) {
		return missing
	}
	t = math.Max(0, math.Min(1, t))
	f := t * float64(len(viridis)-1)
	i := int(math.Floor(f))
	if i >= len(viridis)-1 {
		i, f = len(viridis)-2, float64(len(viridis)-1)
	}
	u := f - float64(i)
	var c [3]uint8
	for k := 0; k < 3; k++ {
		c[k] = uint8(math.Round(255 * (viridis[i][k]*(1-u) + viridis[i+1][k]*u)))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}

// missing is the colour of a missing (NaN) value.
var missing = color.RGBA{200, 200, 200, 255}

// Heatmap draws z (rows × columns) as coloured cells on the viridis scale,
// with each cell's value written in it (format, e.g. "%.2f"; empty: none) and
// the row and column labels as ticks. Row 0 is drawn at the top.
func Heatmap(title, xlabel, ylabel string, cols, rows []string, z [][]float64, format string) (*plot.Plot, error) {
	if len(z) != len(rows) || len(rows) == 0 {
		return nil, fmt.Errorf("heatmap: %d rows of values for %d labels", len(z), len(rows))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, r := range z {
		if len(r) != len(cols) {
			return nil, fmt.Errorf("heatmap: row %d has %d values for %d columns", i, len(r), len(cols))
		}
		for j, v := range r {
			if math.IsInf(v, 0) {
				return nil, fmt.Errorf("heatmap: value (%d, %d) is %g", i, j, v)
			}
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	nr, nc := len(rows), len(cols)
	img := image.NewRGBA(image.Rect(0, 0, nc, nr))
	for i := 0; i < nr; i++ {
		for j := 0; j < nc; j++ {
			v := z[i][j]
			col := color.Color(missing)
			if !math.IsNaN(v) {
				col = Viridis((v - lo) / (hi - lo))
			}
			img.Set(j, i, col)
		}
	}
	p := New(title, xlabel, ylabel)
	pi := plotter.NewImage(upscale(img, 32), 0, 0, float64(nc), float64(nr))
	p.Add(pi)
	p.X.Tick.Marker = centredTicks(cols, false)
	p.Y.Tick.Marker = centredTicks(rows, true)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, float64(nc), 0, float64(nr)
	if format != "" {
		var xy plotter.XYs
		var labels []string
		for i := 0; i < nr; i++ {
			for j := 0; j < nc; j++ {
				xy = append(xy, plotter.XY{X: float64(j) + 0.5, Y: float64(nr-1-i) + 0.5})
				labels = append(labels, fmt.Sprintf(format, z[i][j]))
			}
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: labels})
		if err != nil {
			return nil, err
		}
		for k := range lb.TextStyle {
			v := z[k/nc][k%nc]
			lb.TextStyle[k].Font.Size = tickSize - 1
			lb.TextStyle[k].XAlign, lb.TextStyle[k].YAlign = -0.5, -0.5
			if !math.IsNaN(v) && (v-lo)/(hi-lo) > 0.6 {
				lb.TextStyle[k].Color = color.Black
			} else {
				lb.TextStyle[k].Color = color.White
			}
		}
		p.Add(lb)
	}
	return p, nil
}

// centredTicks labels the unit cells [i, i+1) at their centres; reversed
// counts from the top.
func centredTicks(names []string, reversed bool) plot.ConstantTicks {
	ticks := make([]plot.Tick, len(names))
	for i, n := range names {
		pos := float64(i) + 0.5
		if reversed {
			pos = float64(len(names)-1-i) + 0.5
		}
		ticks[i] = plot.Tick{Value: pos, Label: n}
	}
	return ticks
}

// upscale repeats every pixel into an s×s block, so that however a backend
// resamples the image, edges stay sharp (nearest neighbour).
func upscale(src *image.RGBA, s int) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx()*s, b.Dy()*s))
	for y := 0; y < b.Dy()*s; y++ {
		for x := 0; x < b.Dx()*s; x++ {
			dst.Set(x, y, src.At(b.Min.X+x/s, b.Min.Y+y/s))
		}
	}
	return dst
}

// Grid draws n images (NCHW in [−1, 1]) in rows of cols as a figure, with
// optional row and column labels (e.g. the class, the sampler), pixels kept
// sharp.
func Grid(title string, x []float32, n, c, h, w, cols int, rowLabels, colLabels []string) (*plot.Plot, error) {
	img, err := GridImage(x, n, c, h, w, cols, 1, 0)
	if err != nil {
		return nil, err
	}
	rows := (n + cols - 1) / cols
	p := New(title, "", "")
	p.Add(plotter.NewImage(upscale(img, max(1, 256/(rows*h))), 0, 0, float64(cols), float64(rows)))
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, float64(cols), 0, float64(rows)
	hide := func(a *plot.Axis) {
		a.LineStyle.Width = 0
		a.Tick.Length = 0
		a.Tick.Marker = plot.ConstantTicks{}
	}
	hide(&p.X)
	hide(&p.Y)
	if colLabels != nil {
		if len(colLabels) != cols {
			return nil, fmt.Errorf("grid: %d column labels for %d columns", len(colLabels), cols)
		}
		p.X.Tick.Marker = centredTicks(colLabels, false)
	}
	if rowLabels != nil {
		if len(rowLabels) != rows {
			return nil, fmt.Errorf("grid: %d row labels for %d rows", len(rowLabels), rows)
		}
		p.Y.Tick.Marker = centredTicks(rowLabels, true)
	}
	p.X.Padding, p.Y.Padding = vg.Points(1), vg.Points(1)
	return p, nil
}
