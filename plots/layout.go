package plots

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"weak"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// layout is what Save needs to lay a plot out on its real canvas: the
// data its legend must not cover, the legend's entry names, and a Pareto
// plot's point labels to place.
type layout struct {
	data    []plotter.XY // points (dense along lines) the legend must not cover
	legend  []string     // the legend's entries, in order
	labels  []*plotter.Labels
	points  []Point      // the labelled points, with their error bars
	lines   []plotter.XY // points along lines that labels must not cover
	numbers []string
	done    bool // laid out (a figure saved as PDF and PNG is laid out once)

	// What arrange did, for tests: the labels' boxes, the legend's box,
	// and the data points the legend covers.
	placed    []box
	legendAt  box
	legendHit int
}

// layouts holds each plot's layout, keyed weakly: an entry goes when its
// plot is collected.
var layouts = struct {
	sync.Mutex
	m map[weak.Pointer[plot.Plot]]*layout
}{m: map[weak.Pointer[plot.Plot]]*layout{}}

func layoutOf(p *plot.Plot) *layout {
	layouts.Lock()
	defer layouts.Unlock()
	k := weak.Make(p)
	l := layouts.m[k]
	if l == nil {
		l = &layout{}
		layouts.m[k] = l
		runtime.AddCleanup(p, func(k weak.Pointer[plot.Plot]) {
			layouts.Lock()
			delete(layouts.m, k)
			layouts.Unlock()
		}, k)
	}
	return l
}

// HideLegend removes a plot's legend (a panel that shares another's, say):
// its entries are dropped and arrange no longer keeps room for it.
func HideLegend(p *plot.Plot) {
	p.Legend = plot.NewLegend()
	layoutOf(p).legend = nil
}

// fixedLabels are a Pareto plot's labels without glyph boxes: gonum pads
// the data area to fit glyph boxes, which would move it after arrange
// placed the labels on it; arrange keeps them inside the area instead.
type fixedLabels struct{ *plotter.Labels }

// GlyphBoxes implements plot.GlyphBoxer with none.
func (fixedLabels) GlyphBoxes(*plot.Plot) []plot.GlyphBox { return nil }

// addLegend records a legend entry (and adds it to the plot).
func addLegend(p *plot.Plot, name string, thumbs ...plot.Thumbnailer) {
	p.Legend.Add(name, thumbs...)
	l := layoutOf(p)
	l.legend = append(l.legend, name)
}

// avoid records data the legend must not cover: the points and, for
// lines, points every 1/16 of each segment.
func avoid(p *plot.Plot, xy plotter.XYs, line bool) {
	l := layoutOf(p)
	for i, q := range xy {
		l.data = append(l.data, q)
		if line && i+1 < len(xy) {
			for k := 1; k < 16; k++ {
				f := float64(k) / 16
				l.data = append(l.data, plotter.XY{X: q.X + f*(xy[i+1].X-q.X), Y: q.Y + f*(xy[i+1].Y-q.Y)})
			}
		}
	}
}

// legendSize returns the size of the legend's box as gonum draws it.
func legendSize(p *plot.Plot, names []string) (w, h vg.Length) {
	sty := p.Legend.TextStyle
	for i, n := range names {
		w = max(w, p.Legend.ThumbnailWidth+sty.Rectangle(" "+n).Max.X)
		h += sty.Rectangle(n).Size().Y
		if i > 0 {
			h += p.Legend.Padding
		}
	}
	return w, h
}

type box struct{ x0, y0, x1, y1 vg.Length }

func (a box) overlaps(b box) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }

func (a box) holds(x, y vg.Length) bool { return x >= a.x0 && x <= a.x1 && y >= a.y0 && y <= a.y1 }

// arrange lays out a plot drawn on canvas c before it is drawn: the legend
// goes to the corner of the data area where it covers no data, the Y range
// growing above the data when no corner is free; a Pareto plot's labels
// go where they cover no other label, marker, error bar or the legend, and
// a label that fits nowhere becomes a number listed in the legend.
func arrange(p *plot.Plot, c draw.Canvas) {
	layouts.Lock()
	l := layouts.m[weak.Make(p)]
	layouts.Unlock()
	if l == nil || l.done {
		return
	}
	l.done = true
	legendBox := func(dc draw.Canvas) box {
		w, h := legendSize(p, l.legend)
		b := box{dc.Max.X - w, dc.Max.Y - h, dc.Max.X, dc.Max.Y}
		if p.Legend.Left {
			b.x0, b.x1 = dc.Min.X, dc.Min.X+w
		}
		if !p.Legend.Top {
			b.y0, b.y1 = dc.Min.Y, dc.Min.Y+h
		}
		return b
	}
	covered := func(b box) int {
		dc := p.DataCanvas(c)
		tx, ty := p.Transforms(&dc)
		n := 0
		for _, q := range l.data {
			if b.holds(tx(q.X), ty(q.Y)) {
				n++
			}
		}
		return n
	}
	placeLegend := func() {
		best, bestN := [2]bool{true, false}, math.MaxInt
		for _, corner := range [][2]bool{{true, false}, {true, true}, {false, false}, {false, true}} {
			p.Legend.Top, p.Legend.Left = corner[0], corner[1]
			if n := covered(legendBox(p.DataCanvas(c))); n < bestN {
				best, bestN = corner, n
			}
		}
		p.Legend.Top, p.Legend.Left = best[0], best[1]
		if bestN > 0 {
			// Room above the data: grow the Y range until the top-right
			// legend clears it.
			p.Legend.Top, p.Legend.Left = true, false
			for k := 0; k < 12 && covered(legendBox(p.DataCanvas(c))) > 0; k++ {
				growTop(&p.Y, 0.08)
			}
		}
	}
	if len(l.legend) > 0 {
		placeLegend()
	}
	if len(l.labels) > 0 {
		placeLabels(p, c, l, legendBox(p.DataCanvas(c)))
		if len(l.numbers) > 0 {
			l.legend = append(l.legend, l.numbers...)
			placeLegend() // the legend grew by the numbered labels
		}
	}
	if len(l.legend) > 0 {
		l.legendAt = legendBox(p.DataCanvas(c))
		l.legendHit = covered(l.legendAt)
	}
}

// growTop raises an axis's maximum by a share of its range (of its
// logarithm on a log scale).
func growTop(a *plot.Axis, share float64) {
	if _, log := a.Scale.(plot.LogScale); log && a.Min > 0 {
		lo, hi := math.Log(a.Min), math.Log(a.Max)
		a.Max = math.Exp(hi + share*(hi-lo))
		return
	}
	a.Max += share * (a.Max - a.Min)
}

// placeLabels gives each Pareto label the first of a ring of positions
// around its point that overlaps nothing placed; a label with no free
// position is replaced by a number, listed in the legend.
func placeLabels(p *plot.Plot, c draw.Canvas, l *layout, legend box) {
	dc := p.DataCanvas(c)
	tx, ty := p.Transforms(&dc)
	var taken []box
	if len(l.legend) > 0 {
		taken = append(taken, legend)
	}
	const r = vg.Length(3) // marker radius and gap, about
	for _, q := range l.points {
		x, y := tx(q.X), ty(q.Y)
		taken = append(taken, box{x - r, y - r, x + r, y + r})
		if q.YLo != q.YHi {
			taken = append(taken, box{x - r, ty(q.YLo), x + r, ty(q.YHi)})
		}
	}
	for _, q := range l.lines {
		x, y := tx(q.X), ty(q.Y)
		taken = append(taken, box{x - 1, y - 1, x + 1, y + 1})
	}
	area := box{dc.Min.X, dc.Min.Y, dc.Max.X, dc.Max.Y}
	inside := func(b box) bool { return b.x0 >= area.x0 && b.x1 <= area.x1 && b.y0 >= area.y0 && b.y1 <= area.y1 }
	free := func(b box) bool {
		if !inside(b) {
			return false
		}
		for _, t := range taken {
			if b.overlaps(t) {
				return false
			}
		}
		return true
	}
	number := 0
	for i, lb := range l.labels {
		q := l.points[i]
		x, y := tx(q.X), ty(q.Y)
		sty := lb.TextStyle[0]
		text := lb.Labels[0]
		size := sty.Rectangle(text).Size()
		w, h := size.X, size.Y
		placed := false
		for _, off := range []vg.Point{
			{X: 2 * r, Y: -h / 2}, {X: -2*r - w, Y: -h / 2}, {X: -w / 2, Y: 2 * r}, {X: -w / 2, Y: -2*r - h},
			{X: 2 * r, Y: r}, {X: 2 * r, Y: -r - h}, {X: -2*r - w, Y: r}, {X: -2*r - w, Y: -r - h},
			{X: 2 * r, Y: 2*r + h/2}, {X: 2 * r, Y: -2*r - 1.5*h}, {X: -2*r - w, Y: 2*r + h/2}, {X: -2*r - w, Y: -2*r - 1.5*h},
		} {
			b := box{x + off.X, y + off.Y, x + off.X + w, y + off.Y + h}
			if free(b) {
				// plotter.Labels draws text with its bottom-left corner at
				// the point plus Offset (XAlign and YAlign left at 0).
				lb.Offset = vg.Point{X: off.X, Y: off.Y + sty.FontExtents().Descent}
				taken = append(taken, b)
				l.placed = append(l.placed, b)
				placed = true
				break
			}
		}
		if placed {
			continue
		}
		// A number instead, on rings of growing radius around the point.
		n := fmt.Sprint(number + 1)
		nw := sty.Rectangle(n).Size().X
	rings:
		for k := vg.Length(1); k <= 5; k++ {
			for a := 0; a < 12; a++ {
				ang := 2 * math.Pi * float64(a) / 12
				ox, oy := vg.Length(math.Cos(ang))*2*r*k, vg.Length(math.Sin(ang))*2*r*k
				b := box{x + ox - nw/2, y + oy - h/2, x + ox + nw/2, y + oy + h/2}
				if free(b) {
					lb.Labels[0] = n
					lb.Offset = vg.Point{X: ox - nw/2, Y: oy - h/2 + sty.FontExtents().Descent}
					taken = append(taken, b)
					l.placed = append(l.placed, b)
					placed = true
					break rings
				}
			}
		}
		if placed {
			number++
			l.numbers = append(l.numbers, fmt.Sprintf("%s: %s", n, text))
		} else {
			// Too crowded even for a number: unlabelled, named in the
			// legend with its coordinates.
			lb.Labels[0] = ""
			l.numbers = append(l.numbers, fmt.Sprintf("unlabelled: %s (%.4g, %.4g)", text, q.X, q.Y))
		}
	}
	for _, n := range l.numbers {
		p.Legend.Add(n)
	}
}

// NiceLog widens a logarithmic axis's range to the 1, 2, 5 × 10^k values
// around it, so that LogTicks labels both of its ends.
func NiceLog(a *plot.Axis) {
	if !(a.Min > 0 && a.Max > a.Min) {
		return
	}
	down := func(v float64) float64 {
		e := math.Pow(10, math.Floor(math.Log10(v)+1e-12))
		for _, m := range []float64{5, 2, 1} {
			if m*e <= v*(1+1e-12) {
				return m * e
			}
		}
		return e
	}
	up := func(v float64) float64 {
		e := math.Pow(10, math.Floor(math.Log10(v)-1e-12))
		for _, m := range []float64{1, 2, 5, 10} {
			if m*e >= v*(1-1e-12) {
				return m * e
			}
		}
		return 10 * e
	}
	a.Min, a.Max = down(a.Min), up(a.Max)
}

// NiceTicks labels a linear axis every 1, 2 or 5 × 10^k: the smallest
// such step giving at most eight labels, or, when that step gives fewer
// than four, the next smaller one if it gives at most ten; unlabelled
// ticks between. A range with no round steps (infinite, empty, or too
// narrow for its magnitude) is labelled at its finite ends.
type NiceTicks struct{}

// Ticks implements plot.Ticker.
func (NiceTicks) Ticks(lo, hi float64) []plot.Tick {
	width := hi - lo
	if !(hi > lo) || math.IsInf(width, 0) || math.IsNaN(width) || width < 1e-9*math.Max(math.Abs(lo), math.Abs(hi)) {
		// No round steps to find: the ends, where they are numbers.
		var out []plot.Tick
		for _, v := range []float64{lo, hi} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) && (len(out) == 0 || out[0].Value != v) {
				out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)})
			}
		}
		return out
	}
	count := func(s float64) float64 { return math.Floor(hi/s) - math.Ceil(lo/s) + 1 }
	// The smallest 1-2-5 step with at most eight labels; when that leaves
	// fewer than four, the step before it if it gives at most ten.
	var step, prev float64
	for e := math.Floor(math.Log10(width)) - 2; step == 0; e++ {
		for _, m := range []float64{1, 2, 5} {
			s := m * math.Pow(10, e)
			if count(s) <= 8 {
				step = s
				break
			}
			prev = s
		}
	}
	if count(step) < 4 && prev > 0 && count(prev) <= 10 {
		step = prev
	}
	var out []plot.Tick
	prec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		v := k * step
		if k == 0 {
			v = 0 // not −0
		}
		out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
		if minor := v + step/2; minor < hi {
			out = append(out, plot.Tick{Value: minor})
		}
	}
	return out
}
