package plots

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BarSeries is one series of a grouped bar chart: a value per group with
// optional interval bounds (Lo, Hi; nil for none). A negative value marks
// a group the series has no value for: no bar is drawn.
type BarSeries struct {
	Name           string
	Values, Lo, Hi []float64
}

// Bars draws a grouped bar chart: one group of bars per name in groups,
// one bar per series in each, in the palette's colours, with interval
// whiskers where the series has them.
func Bars(title, ylabel string, groups []string, series []BarSeries) (*plot.Plot, error) {
	if len(series) == 0 || len(groups) == 0 {
		return nil, fmt.Errorf("bars: %d series over %d groups", len(series), len(groups))
	}
	p := New(title, "", ylabel)
	width := vg.Points(math.Max(2, 280/float64(len(groups)*len(series))))
	for i, s := range series {
		if len(s.Values) != len(groups) || s.Lo != nil && len(s.Lo) != len(groups) || s.Hi != nil && len(s.Hi) != len(groups) {
			return nil, fmt.Errorf("bars: series %q has %d values (%d, %d bounds) for %d groups", s.Name, len(s.Values), len(s.Lo), len(s.Hi), len(groups))
		}
		vals := make(plotter.Values, len(groups))
		for g, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("bars: series %q, group %s: value %v", s.Name, groups[g], v)
			}
			vals[g] = math.Max(v, 0)
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		b.Color = colorOf(i)
		b.LineStyle.Width = 0
		b.Offset = width * vg.Length(float64(i)-float64(len(series)-1)/2)
		p.Add(b)
		addLegend(p, s.Name, b)
		if s.Lo != nil && s.Hi != nil {
			var e errXY
			for g, v := range s.Values {
				if v < 0 {
					continue
				}
				e = append(e, struct{ x, y, lo, hi float64 }{float64(g), v, v - s.Lo[g], s.Hi[g] - v})
			}
			if len(e) > 0 {
				eb, err := plotter.NewYErrorBars(e)
				if err != nil {
					return nil, err
				}
				eb.LineStyle.Width = vg.Points(0.6)
				eb.CapWidth = width / 2
				// Error bars sit at the group's centre; shift them with
				// the bars by drawing in a shifted copy.
				p.Add(shifted{eb, b.Offset})
			}
		}
	}
	p.NominalX(groups...)
	p.Legend.Top = true
	p.Y.Min = 0
	// The legend goes where it covers no bar or whisker: each group's
	// span, up to its tallest whisker.
	for g := range groups {
		top := 0.0
		for _, s := range series {
			top = math.Max(top, s.Values[g])
			if s.Hi != nil {
				top = math.Max(top, s.Hi[g])
			}
		}
		for _, x := range []float64{-0.4, 0, 0.4} {
			avoid(p, plotter.XYs{{X: float64(g) + x, Y: 0}, {X: float64(g) + x, Y: top}}, true)
		}
	}
	return p, nil
}

// shifted draws a plotter offset horizontally by a fixed length.
type shifted struct {
	*plotter.YErrorBars
	dx vg.Length
}

// Plot implements plot.Plotter.
func (s shifted) Plot(c draw.Canvas, p *plot.Plot) {
	c.Rectangle.Min.X += s.dx
	c.Rectangle.Max.X += s.dx
	s.YErrorBars.Plot(c, p)
}
