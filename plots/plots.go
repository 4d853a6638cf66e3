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
				arrange(p, canvases[i][j])
				p.Draw(canvases[i][j])
			}
		}
	}
	return fsutil.WriteAtomic(path, func(wr io.Writer) error {
		_, err := c.WriteTo(wr)
		return err
	})
}

// LineStyle is how a series' line is drawn.
type LineStyle int

// Line styles.
const (
	Solid LineStyle = iota
	DashedLine
	Dotted
)

// dashes returns the dash pattern of a style.
func (s LineStyle) dashes() []vg.Length {
	switch s {
	case DashedLine:
		return []vg.Length{vg.Points(4), vg.Points(2)}
	case Dotted:
		return []vg.Length{vg.Points(1), vg.Points(1.5)}
	}
	return nil
}

// Series is one line of a line plot; Lo and Hi, when set, bound a shaded
// band (a 95% confidence interval, say).
type Series struct {
	Name      string
	X, Y      []float64
	Lo, Hi    []float64
	Dashed    bool      // the same as Style DashedLine
	Style     LineStyle // solid, dashed or dotted
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
			avoid(p, pts, false)
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
			s.Style = DashedLine
		}
		l.Dashes = s.Style.dashes()
		p.Add(l)
		avoid(p, xy, true)
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
			addLegend(p, s.Name, l)
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
// beats on both axes. names, when given, are the legend's names of the
// points drawn as circles and of the highlighted ones, drawn as squares.
// When saved, each label goes where it covers no other label, marker,
// error bar or the legend; one that fits nowhere becomes a number, listed
// in the legend. The axes leave room around the points and their error
// bars.
func Pareto(title, xlabel, ylabel string, pts []Point, names ...string) (*plot.Plot, error) {
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
	addLegend(p, "Pareto front", fl)
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
	for k, name := range names {
		if name == "" || k > 1 {
			continue
		}
		g, err := plotter.NewScatter(plotter.XYs{{}})
		if err != nil {
			return nil, err
		}
		g.GlyphStyle = draw.GlyphStyle{Color: colorOf(0), Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		if k == 1 {
			g.GlyphStyle.Color, g.GlyphStyle.Shape = colorOf(3), draw.BoxGlyph{}
		}
		addLegend(p, name, g)
	}
	l := layoutOf(p)
	avoid(p, fx, true)
	for i := 0; i+1 < len(fx); i++ { // labels keep off the front's line
		for k := 0; k <= 64; k++ {
			f := float64(k) / 64
			l.lines = append(l.lines, plotter.XY{X: fx[i].X + f*(fx[i+1].X-fx[i].X), Y: fx[i].Y + f*(fx[i+1].Y-fx[i].Y)})
		}
	}
	for i, q := range pts {
		avoid(p, plotter.XYs{{X: q.X, Y: math.Min(q.Y, q.YLo)}, {X: q.X, Y: math.Max(q.Y, q.YHi)}}, true)
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy[i : i+1], Labels: labels[i : i+1]})
		if err != nil {
			return nil, err
		}
		lb.TextStyle[0].Font.Size = tickSize - 1
		p.Add(fixedLabels{lb})
		l.labels, l.points = append(l.labels, lb), append(l.points, q)
	}
	// Room around the points: 6% of each range on every side, so that no
	// marker or error bar touches the frame.
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, q := range pts {
		minX, maxX = math.Min(minX, q.X), math.Max(maxX, q.X)
		minY, maxY = math.Min(minY, math.Min(q.Y, q.YLo)), math.Max(maxY, math.Max(q.Y, q.YHi))
	}
	padX, padY := 0.06*(maxX-minX), 0.06*(maxY-minY)
	if padX == 0 {
		padX = 0.06 * math.Max(math.Abs(maxX), 1)
	}
	if padY == 0 {
		padY = 0.06 * math.Max(math.Abs(maxY), 1)
	}
	p.X.Min, p.X.Max = minX-padX, maxX+padX
	p.Y.Min, p.Y.Max = minY-padY, maxY+padY
	p.X.Tick.Marker, p.Y.Tick.Marker = NiceTicks{}, NiceTicks{}
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
