package plots

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// Palette is the Okabe–Ito palette (Okabe & Ito, "Color Universal Design",
// 2008), distinguishable under the common colour-vision deficiencies; series
// take its colours in order.
var Palette = []color.Color{
	color.RGBA{0x00, 0x72, 0xB2, 0xff}, // blue
	color.RGBA{0xE6, 0x9F, 0x00, 0xff}, // orange
	color.RGBA{0x00, 0x9E, 0x73, 0xff}, // bluish green
	color.RGBA{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	color.RGBA{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	color.RGBA{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	color.RGBA{0xF0, 0xE4, 0x42, 0xff}, // yellow
	color.RGBA{0x00, 0x00, 0x00, 0xff}, // black
}

// Figure sizes for a two-column paper.
const (
	ColumnWidth = 3.4 * vg.Inch // one column
	PageWidth   = 7 * vg.Inch   // both columns
	FigHeight   = 2.5 * vg.Inch // one row of panels
)

// The paper style: font sizes in points and line width.
const (
	titleSize = 10
	labelSize = 9
	tickSize  = 8
	lineWidth = 1.2
)

// PNGDPI is the resolution of PNG figures: a 3.4-inch column-wide figure is
// 680 pixels wide, sharp on a screen and in a README.
const PNGDPI = 200

// New returns an empty plot in the paper style.
func New(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = titleSize
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = labelSize
		a.Tick.Label.Font.Size = tickSize
		a.LineStyle.Width = vg.Points(0.6)
		a.Tick.LineStyle.Width = vg.Points(0.6)
	}
	p.Legend.TextStyle.Font.Size = tickSize
	p.Legend.Top = true
	return p
}

func colorOf(i int) color.Color { return Palette[i%len(Palette)] }

// faded returns c with alpha a (0–255).
func faded(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), a}
}

// Save writes a plot to path, the format (pdf, svg or png) taken from the
// extension, atomically.
func Save(p *plot.Plot, path string, w, h vg.Length) error {
	return SavePanels([][]*plot.Plot{{p}}, path, w, h)
}

// SavePanels writes a grid of plots (rows of panels, nil for an empty
// panel), aligned, as one figure.
func SavePanels(panels [][]*plot.Plot, path string, w, h vg.Length) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if !slices.Contains([]string{"pdf", "svg", "png"}, format) {
		return fmt.Errorf("figure %s: format %q is not pdf, svg or png", path, format)
	}
	if len(panels) == 0 || len(panels[0]) == 0 {
		return fmt.Errorf("figure %s: no panels", path)
	}
	var c vg.CanvasWriterTo
	if format == "png" {
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(PNGDPI))}
	} else {
		var err error
		if c, err = draw.NewFormattedCanvas(w, h, format); err != nil {
			return err
		}
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(panels), Cols: len(panels[0]), PadX: vg.Millimeter, PadY: vg.Millimeter,
		PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: vg.Millimeter}
	for i, row := range panels {
		if len(row) != tiles.Cols {
			return fmt.Errorf("figure %s: row %d has %d panels, want %d", path, i, len(row), tiles.Cols)
		}
	}
	canvases := plot.Align(panels, tiles, dc)
	for i, row := range panels {
		for j, p := range row {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	return fsutil.WriteAtomic(path, func(wr io.Writer) error {
		_, err := c.WriteTo(wr)
		return err
	})
}

// Series is one line of a line plot; Lo and Hi, when set, bound a shaded
// band (a 95% confidence interval, say).
type Series struct {
	Name      string
	X, Y      []float64
	Lo, Hi    []float64
	Dashed    bool
	NoMarkers bool
	// Color, when set, replaces the palette's colour for the series.
	Color color.Color
}

// Lines draws series as lines with markers and optional error bands.
func Lines(title, xlabel, ylabel string, series []Series) (*plot.Plot, error) {
	p := New(title, xlabel, ylabel)
	for i, s := range series {
		if len(s.X) != len(s.Y) || len(s.X) == 0 {
			return nil, fmt.Errorf("series %q: %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		col := colorOf(i)
		if s.Color != nil {
			col = s.Color
		}
		if s.Lo != nil || s.Hi != nil {
			if len(s.Lo) != len(s.X) || len(s.Hi) != len(s.X) {
				return nil, fmt.Errorf("series %q: band of %d and %d values for %d points", s.Name, len(s.Lo), len(s.Hi), len(s.X))
			}
			var pts plotter.XYs
			for k := range s.X {
				pts = append(pts, plotter.XY{X: s.X[k], Y: s.Hi[k]})
			}
			for k := len(s.X) - 1; k >= 0; k-- {
				pts = append(pts, plotter.XY{X: s.X[k], Y: s.Lo[k]})
			}
			band, err := plotter.NewPolygon(pts)
			if err != nil {
				return nil, err
			}
			band.Color = faded(col, 60)
			band.LineStyle.Width = 0
			p.Add(band)
		}
		xy := make(plotter.XYs, len(s.X))
		for k := range s.X {
			if math.IsNaN(s.Y[k]) || math.IsInf(s.Y[k], 0) {
				return nil, fmt.Errorf("series %q: value %d is %v", s.Name, k, s.Y[k])
			}
			xy[k] = plotter.XY{X: s.X[k], Y: s.Y[k]}
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = col, vg.Points(lineWidth)
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l)
		if !s.NoMarkers && len(xy) <= 40 {
			sc, err := plotter.NewScatter(xy)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle.Color, sc.GlyphStyle.Radius = col, vg.Points(1.8)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(sc)
		}
		if s.Name != "" {
			p.Legend.Add(s.Name, l)
		}
	}
	return p, nil
}

// TrainingCurve plots a loss against steps: the raw values faint and an
// exponential moving average (weight smooth, e.g. 0.95) on top.
func TrainingCurve(title string, steps, loss []float64, smooth float64) (*plot.Plot, error) {
	if len(steps) != len(loss) || len(steps) == 0 {
		return nil, fmt.Errorf("training curve: %d steps and %d losses", len(steps), len(loss))
	}
	ema := make([]float64, len(loss))
	acc := loss[0]
	for i, v := range loss {
		acc = smooth*acc + (1-smooth)*v
		ema[i] = acc
	}
	p := New(title, "step", "loss")
	mk := func(y []float64) (*plotter.Line, error) {
		xy := make(plotter.XYs, len(y))
		for i := range y {
			if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
				return nil, fmt.Errorf("training curve: loss %d is %v", i, y[i])
			}
			xy[i] = plotter.XY{X: steps[i], Y: y[i]}
		}
		return plotter.NewLine(xy)
	}
	raw, err := mk(loss)
	if err != nil {
		return nil, err
	}
	raw.Color, raw.Width = faded(colorOf(0), 90), vg.Points(0.6)
	sm, err := mk(ema)
	if err != nil {
		return nil, err
	}
	sm.Color, sm.Width = colorOf(0), vg.Points(lineWidth)
	p.Add(raw, sm)
	p.Legend.Add("loss", raw)
	p.Legend.Add(fmt.Sprintf("EMA %.2g", smooth), sm)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = LogTicks{}
	for _, v := range loss {
		if v <= 0 {
			p.Y.Scale, p.Y.Tick.Marker = plot.LinearScale{}, plot.DefaultTicks{}
			break
		}
	}
	return p, nil
}

// Point is a labelled point of a Pareto plot.
type Point struct {
	Label     string
	X, Y      float64
	XLo, XHi  float64 // optional interval on X (equal: none)
	YLo, YHi  float64 // optional interval on Y (equal: none)
	Highlight bool    // drawn as a square in another colour
}

// Pareto plots labelled points (cost on X, a lower-is-better quality
// measure on Y) and joins the Pareto-optimal ones: the points no other point
// beats on both axes.
func Pareto(title, xlabel, ylabel string, pts []Point) (*plot.Plot, error) {
	if len(pts) == 0 {
		return nil, fmt.Errorf("pareto: no points")
	}
	p := New(title, xlabel, ylabel)
	xy := make(plotter.XYs, len(pts))
	labels := make([]string, len(pts))
	for i, q := range pts {
		if math.IsNaN(q.X) || math.IsNaN(q.Y) {
			return nil, fmt.Errorf("pareto: point %q is NaN", q.Label)
		}
		xy[i] = plotter.XY{X: q.X, Y: q.Y}
		labels[i] = q.Label
	}
	front := ParetoFront(pts)
	var fx plotter.XYs
	for _, i := range front {
		fx = append(fx, xy[i])
	}
	fl, err := plotter.NewLine(fx)
	if err != nil {
		return nil, err
	}
	fl.Color, fl.Width, fl.Dashes = colorOf(1), vg.Points(lineWidth), []vg.Length{vg.Points(4), vg.Points(2)}
	p.Add(fl)
	p.Legend.Add("Pareto front", fl)
	for _, q := range pts {
		if q.YLo != q.YHi {
			eb, err := plotter.NewYErrorBars(errXY{{x: q.X, y: q.Y, lo: q.Y - q.YLo, hi: q.YHi - q.Y}})
			if err != nil {
				return nil, fmt.Errorf("pareto: point %q: %w", q.Label, err)
			}
			eb.Color = colorOf(0)
			p.Add(eb)
		}
		if q.XLo != q.XHi {
			eb, err := plotter.NewXErrorBars(errXY{{x: q.X, y: q.Y, lo: q.X - q.XLo, hi: q.XHi - q.X}})
			if err != nil {
				return nil, fmt.Errorf("pareto: point %q: %w", q.Label, err)
			}
			eb.Color = colorOf(0)
			p.Add(eb)
		}
	}
	sc, err := plotter.NewScatter(xy)
	if err != nil {
		return nil, err
	}
	sc.GlyphStyleFunc = func(i int) draw.GlyphStyle {
		g := draw.GlyphStyle{Color: colorOf(0), Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		if pts[i].Highlight {
			g.Color, g.Shape = colorOf(3), draw.BoxGlyph{}
		}
		return g
	}
	p.Add(sc)
	offsets := labelOffsets(pts, tickSize-1)
	for i := range pts {
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy[i : i+1], Labels: labels[i : i+1]})
		if err != nil {
			return nil, err
		}
		lb.TextStyle[0].Font.Size = tickSize - 1
		lb.Offset = offsets[i]
		p.Add(lb)
	}
	return p, nil
}

// LogTicks marks a logarithmic axis: gonum's powers of ten when the axis
// holds three or more of them; otherwise labels at 1, 2 and 5 times the
// powers of ten in range (2.5 to 45: 5, 10, 20); and when even those are
// fewer than two (a loss between 0.075 and 0.082), plain ticks at round
// values, so that every axis has labelled values.
type LogTicks struct{}

// Ticks implements plot.Ticker.
func (LogTicks) Ticks(min, max float64) []plot.Tick {
	t := plot.LogTicks{Prec: -1}.Ticks(min, max)
	labelled := func(ts []plot.Tick) (n int) {
		for _, k := range ts {
			if k.Label != "" && k.Value >= min && k.Value <= max {
				n++
			}
		}
		return n
	}
	if labelled(t) >= 3 || !(min > 0) {
		return t
	}
	var out []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= min && v <= max {
				out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)})
			}
		}
	}
	if len(out) >= 2 {
		for _, k := range t {
			if k.Label == "" {
				out = append(out, k) // gonum's minor ticks
			}
		}
		return out
	}
	out = out[:0]
	for _, k := range (plot.DefaultTicks{}).Ticks(min, max) {
		if k.Value > 0 {
			out = append(out, k)
		}
	}
	return out
}

// labelOffsets places the points' labels so that they do not overlap: each
// label goes right of its point (left of it near the right edge), moved up
// or down by whole lines until it clears the labels placed before it. The
// placement estimates the canvas from a page-wide figure's data area and
// the labels' widths from their length; good enough to keep close
// operating points (Clockwork variants of nearly equal cost) legible.
func labelOffsets(pts []Point, size vg.Length) []vg.Point {
	const w, h = 440.0, 200.0 // data area in points, about
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, q := range pts {
		minX, maxX = math.Min(minX, q.X), math.Max(maxX, q.X)
		minY, maxY = math.Min(minY, math.Min(q.Y, q.YLo)), math.Max(maxY, math.Max(q.Y, q.YHi))
	}
	scale := func(v, lo, hi, n float64) float64 {
		if !(hi > lo) {
			return n / 2
		}
		return (v - lo) / (hi - lo) * n
	}
	type rect struct{ x0, x1, y0, y1 float64 }
	var placed []rect
	clear := func(r rect) bool {
		for _, o := range placed {
			if r.x0 < o.x1 && o.x0 < r.x1 && r.y0 < o.y1 && o.y0 < r.y1 {
				return false
			}
		}
		return true
	}
	fs, line := float64(size), float64(size)+1.5
	order := make([]int, len(pts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case pts[a].Y > pts[b].Y:
			return -1
		case pts[a].Y < pts[b].Y:
			return 1
		}
		return 0
	})
	out := make([]vg.Point, len(pts))
	for _, i := range order {
		q := pts[i]
		cx, cy := scale(q.X, minX, maxX, w), scale(q.Y, minY, maxY, h)
		lw := 0.5*fs*float64(len([]rune(q.Label))) + 2
		dx := 3.0
		if cx+dx+lw > w+10 {
			dx = -3 - lw
		}
		best := rect{cx + dx, cx + dx + lw, cy + 2, cy + 2 + fs}
		dy := 2.0
		for _, k := range []float64{0, -1, 1, -2, 2, -3, 3, -4, 4} {
			r := rect{cx + dx, cx + dx + lw, cy + 2 + k*line, cy + 2 + k*line + fs}
			if clear(r) {
				best, dy = r, 2+k*line
				break
			}
		}
		placed = append(placed, best)
		out[i] = vg.Point{X: vg.Points(dx), Y: vg.Points(dy)}
	}
	return out
}

// ParetoFront returns the indices of the points not dominated on both axes
// (lower is better on each), sorted by X.
func ParetoFront(pts []Point) []int {
	idx := make([]int, len(pts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if pts[a].X != pts[b].X {
			if pts[a].X < pts[b].X {
				return -1
			}
			return 1
		}
		if pts[a].Y < pts[b].Y {
			return -1
		}
		if pts[a].Y > pts[b].Y {
			return 1
		}
		return 0
	})
	var front []int
	best := math.Inf(1)
	for _, i := range idx {
		if pts[i].Y < best {
			front = append(front, i)
			best = pts[i].Y
		}
	}
	return front
}

type errXY []struct{ x, y, lo, hi float64 }

func (e errXY) Len() int                        { return len(e) }
func (e errXY) XY(i int) (float64, float64)     { return e[i].x, e[i].y }
func (e errXY) YError(i int) (float64, float64) { return e[i].lo, e[i].hi }
func (e errXY) XError(i int) (float64, float64) { return e[i].lo, e[i].hi }

// SaveBoth writes a figure into dir as name.pdf (for a paper) and name.png
// (for a screen) through save, and returns the PNG's name.
func SaveBoth(dir, name string, save func(path string) error) (string, error) {
	for _, ext := range []string{".pdf", ".png"} {
		if err := save(filepath.Join(dir, name+ext)); err != nil {
			return "", err
		}
	}
	return name + ".png", nil
}
