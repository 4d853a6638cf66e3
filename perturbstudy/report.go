package perturbstudy

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/provenance"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/plots"
	"github.com/clockwork-go/clockwork/study"
)

// Threshold is the mean L2 distance below which the summary calls a
// perturbation's effect on the output negligible: 2.0 over a 32×32 image in
// [−1, 1] is an RMS pixel difference of 0.0625 (3% of the range), a PSNR of
// 30 dB.
const Threshold = 2.0

// cell is a record decoded.
type cell struct {
	spec Cell
	res  Result
}

// Results indexes a study's records by their cell spec.
type Results struct {
	Config Config
	cells  map[string]cell
}

// Decode reads a study's records.
func Decode(cfg Config, records []study.Record) (*Results, error) {
	r := &Results{Config: cfg, cells: map[string]cell{}}
	for _, rec := range records {
		var c cell
		if err := json.Unmarshal(rec.Cell, &c.spec); err != nil {
			return nil, fmt.Errorf("record %s: %w", rec.Key, err)
		}
		if err := json.Unmarshal(rec.Result, &c.res); err != nil {
			return nil, fmt.Errorf("record %s: %w", rec.Key, err)
		}
		r.cells[c.spec.Key()] = c
	}
	return r, nil
}

// Get returns the result of a cell, if the study has it.
func (r *Results) Get(s Cell) (Result, bool) {
	c, ok := r.cells[s.Key()]
	return c.res, ok
}

// work returns the working resolution of a tap.
func (c Config) work(tap string) int {
	if i := slices.Index(c.Taps, tap); i >= 0 && i < len(c.Work) {
		return c.Work[i]
	}
	return 0
}

// tapColor colours a tap by its place in the network, conv_in to the last
// up block, along the viridis ramp (kept short of its pale yellow end,
// which white paper swallows): ordered colours that stay distinct under the
// common colour-vision deficiencies and in greyscale.
func (c Config) tapColor(tap string) color.Color {
	i := slices.Index(c.Taps, tap)
	if len(c.Taps) < 2 || i < 0 {
		return plots.Viridis(0)
	}
	return plots.Viridis(0.85 * float64(i) / float64(len(c.Taps)-1))
}

// tapStyle draws a tap's line by its working resolution: solid at the
// highest, dotted at the lowest, dashed between, so that resolution reads
// without colour.
func (c Config) tapStyle(tap string) plots.LineStyle {
	lo, hi := math.MaxInt, 0
	for _, w := range c.Work {
		lo, hi = min(lo, w), max(hi, w)
	}
	switch w := c.work(tap); {
	case w == hi:
		return plots.Solid
	case w == lo:
		return plots.Dotted
	}
	return plots.DashedLine
}

func (c Config) tapLabel(tap string) string {
	if w := c.work(tap); w > 0 {
		return fmt.Sprintf("%s (%d×%d)", tap, w, w)
	}
	return tap
}

// curves returns L2 against k, one series per tap, for a sampler and a.
func (r *Results) curves(sampler string, a float64, value func(Result) *metrics.Interval) []plots.Series {
	c := r.Config
	var out []plots.Series
	for _, tap := range c.Taps {
		s := plots.Series{Name: c.tapLabel(tap), Color: c.tapColor(tap), Style: c.tapStyle(tap)}
		for _, k := range c.From {
			res, ok := r.Get(Cell{Sampler: sampler, Tap: tap, From: k, A: a})
			if !ok {
				continue
			}
			iv := value(res)
			if iv == nil {
				iv = &metrics.Interval{}
			}
			s.X = append(s.X, float64(k))
			s.Y = append(s.Y, iv.Value)
			s.Lo = append(s.Lo, iv.Lo)
			s.Hi = append(s.Hi, iv.Hi)
		}
		if len(s.X) > 0 {
			out = append(out, s)
		}
	}
	return out
}

func l2Of(r Result) *metrics.Interval   { return r.L2 }
func flipOf(r Result) *metrics.Interval { return r.FlipRate }
func hfOf(r Result) *metrics.Interval   { return r.HighFreq }

// Report writes results.csv, the figures and summary.md into dir from a
// study's results, and returns the figures' PNG names.
func Report(dir string, r *Results) ([]string, error) {
	c := r.Config
	var figs []string
	if err := r.writeCSV(filepath.Join(dir, "results.csv")); err != nil {
		return nil, err
	}
	for _, smp := range c.Samplers {
		sfx := "-" + smp
		title := fmt.Sprintf("%s, %d steps, a = %g", smp, c.Steps, c.FigureA)
		if s := r.curves(smp, c.FigureA, l2Of); len(s) > 0 {
			p, err := plots.Lines("Perturbed feature vs output: "+title, "perturbation from step k", "L2 to unperturbed sample", s)
			if err != nil {
				return nil, err
			}
			p.Legend.Top, p.Legend.Left = true, false
			logScale(p, s)
			name, err := plots.SaveBoth(dir, "l2_vs_k"+sfx, func(path string) error { return plots.Save(p, path, plots.PageWidth, 1.6*plots.FigHeight) })
			if err != nil {
				return nil, err
			}
			figs = append(figs, name)
		}
		for _, hm := range []struct {
			name, title, format string
			value               func(Result) *metrics.Interval
		}{
			{"heatmap_l2", "L2 to the unperturbed sample", "%.1f", l2Of},
			{"heatmap_flip", "class-flip rate", "%.2f", flipOf},
			{"heatmap_highfreq", "high-frequency share of the difference", "%.2f", hfOf},
		} {
			z, rows, cols := r.table(smp, c.FigureA, hm.value)
			if z == nil {
				continue
			}
			p, err := plots.Heatmap(hm.title+": "+title, "perturbation from step k", "", cols, rows, z, hm.format)
			if err != nil {
				return nil, err
			}
			name, err := plots.SaveBoth(dir, hm.name+sfx, func(path string) error { return plots.Save(p, path, plots.PageWidth, 1.6*plots.FigHeight) })
			if err != nil {
				return nil, err
			}
			figs = append(figs, name)
		}
		for i := 0; i < c.Keep; i++ {
			p, err := r.grid(smp, i)
			if err != nil {
				return nil, err
			}
			if p == nil {
				break
			}
			name, err := plots.SaveBoth(dir, fmt.Sprintf("grid%s-%d", sfx, i), func(path string) error {
				return plots.Save(p, path, vg.Length(len(c.GridFrom)+1)*0.75*vg.Inch, vg.Length(len(c.Taps))*0.7*vg.Inch)
			})
			if err != nil {
				return nil, err
			}
			figs = append(figs, name)
		}
		if len(c.A) > 1 {
			var row []*plot.Plot
			for _, a := range c.A {
				s := r.curves(smp, a, l2Of)
				if len(s) == 0 {
					continue
				}
				p, err := plots.Lines(fmt.Sprintf("a = %g", a), "perturbation from step k", "L2 to unperturbed sample", s)
				if err != nil {
					return nil, err
				}
				p.Legend.Top = true
				logScale(p, s)
				if len(row) > 0 {
					plots.HideLegend(p)
				}
				row = append(row, p)
			}
			if len(row) > 1 {
				name, err := plots.SaveBoth(dir, "a_sweep"+sfx, func(path string) error {
					return plots.SavePanels([][]*plot.Plot{row}, path, vg.Length(len(row))*3.2*vg.Inch, 1.6*plots.FigHeight)
				})
				if err != nil {
					return nil, err
				}
				figs = append(figs, name)
			}
		}
	}
	sum, err := r.Summary(figs)
	if err != nil {
		return nil, err
	}
	err = fsutil.WriteAtomic(filepath.Join(dir, "summary.md"), func(w io.Writer) error {
		_, err := io.WriteString(w, sum+provenance.Section(dir))
		return err
	})
	return figs, err
}

// logScale puts the Y axis on a log scale when the curves span more than a
// factor of 20 and are all positive.
func logScale(p *plot.Plot, series []plots.Series) {
	lo, hi := math.Inf(1), 0.0
	for _, s := range series {
		for _, v := range s.Lo {
			lo = math.Min(lo, v)
		}
		for _, v := range s.Y {
			lo = math.Min(lo, v)
			hi = math.Max(hi, v)
		}
	}
	if lo > 0 && hi/lo > 20 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plots.LogTicks{}
		plots.NiceLog(&p.Y) // both ends labelled
	}
}

// table returns a tap × k table of a measure (NaN where missing).
func (r *Results) table(sampler string, a float64, value func(Result) *metrics.Interval) (z [][]float64, rows, cols []string) {
	c := r.Config
	any := false
	for _, tap := range c.Taps {
		row := make([]float64, len(c.From))
		for j, k := range c.From {
			row[j] = math.NaN()
			if res, ok := r.Get(Cell{Sampler: sampler, Tap: tap, From: k, A: a}); ok {
				if iv := value(res); iv != nil {
					row[j] = iv.Value
					any = true
				}
			}
		}
		z = append(z, row)
		rows = append(rows, c.tapLabel(tap))
	}
	for _, k := range c.From {
		cols = append(cols, strconv.Itoa(k))
	}
	if !any {
		return nil, nil, nil
	}
	return z, rows, cols
}

// grid draws sample i of every tap at the grid's k (the paper's Fig. 2):
// rows are taps, the first column the unperturbed sample.
func (r *Results) grid(sampler string, i int) (*plot.Plot, error) {
	c := r.Config
	ref, ok := r.Get(Cell{Sampler: sampler})
	if !ok || ref.Samples == "" {
		return nil, nil
	}
	sh := c.Shape
	per := sh[0] * sh[1] * sh[2]
	refX, err := study.DecodeSamples(ref.Samples)
	if err != nil || len(refX) < (i+1)*per {
		return nil, err
	}
	blank := make([]float32, per)
	for j := range blank {
		blank[j] = -1
	}
	var x []float32
	for _, tap := range c.Taps {
		x = append(x, refX[i*per:(i+1)*per]...)
		for _, k := range c.GridFrom {
			res, ok := r.Get(Cell{Sampler: sampler, Tap: tap, From: k, A: c.FigureA})
			img := blank
			if ok && res.Samples != "" {
				s, err := study.DecodeSamples(res.Samples)
				if err == nil && len(s) >= (i+1)*per {
					img = s[i*per : (i+1)*per]
				}
			}
			x = append(x, img...)
		}
	}
	cols := []string{"none"}
	for _, k := range c.GridFrom {
		cols = append(cols, fmt.Sprintf("k=%d", k))
	}
	var rows []string
	for _, tap := range c.Taps {
		rows = append(rows, c.tapLabel(tap))
	}
	return plots.Grid(fmt.Sprintf("%s, a = %g, sample %d", sampler, c.FigureA, i), x, len(c.Taps)*len(cols), sh[0], sh[1], sh[2], len(cols), rows, cols)
}

// writeCSV writes every cell's numbers.
func (r *Results) writeCSV(path string) error {
	c := r.Config
	return fsutil.WriteAtomic(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"sampler", "tap", "work_res", "k", "a", "n", "l2", "l2_lo", "l2_hi", "flip_rate", "flip_lo", "flip_hi",
			"high_freq", "high_freq_lo", "high_freq_hi", "fid", "fid_lo", "fid_hi", "kid", "kid_lo", "kid_hi", "accuracy", "accuracy_lo", "accuracy_hi"})
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
		iv := func(p *metrics.Interval) []string {
			if p == nil {
				return []string{"", "", ""}
			}
			return []string{f(p.Value), f(p.Lo), f(p.Hi)}
		}
		for _, smp := range c.Samplers {
			specs := []Cell{{Sampler: smp}}
			for _, a := range c.A {
				for _, tap := range c.Taps {
					for _, k := range c.From {
						specs = append(specs, Cell{Sampler: smp, Tap: tap, From: k, A: a})
					}
				}
			}
			for _, s := range specs {
				res, ok := r.Get(s)
				if !ok {
					continue
				}
				tap, k, a := s.Tap, strconv.Itoa(s.From), f(s.A)
				if tap == "" {
					tap, k, a = "none", "", ""
				}
				row := []string{smp, tap, strconv.Itoa(c.work(s.Tap)), k, a, strconv.Itoa(res.N)}
				row = append(row, iv(res.L2)...)
				row = append(row, iv(res.FlipRate)...)
				row = append(row, iv(res.HighFreq)...)
				row = append(row, iv(&res.FID)...)
				row = append(row, iv(&res.KID)...)
				row = append(row, iv(res.Accuracy)...)
				cw.Write(row)
			}
		}
		cw.Flush()
		return cw.Error()
	})
}
