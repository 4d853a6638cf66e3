package edits

import (
	"fmt"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/plots"
)

// SweepCell is an editor's evaluation at one pair of guidance scales.
type SweepCell struct {
	TextScale  float64 `json:"text_scale"`
	ImageScale float64 `json:"image_scale"`
	Report     Report  `json:"report"`
}

// Sweep evaluates e on the first n pairs of set at every pair of scales
// (s_I from imageScales, s_T from textScales; the rest of o as given),
// the same pairs and noise in every cell: the trade-off InstructPix2Pix's
// Fig. 5 shows with CLIP measures, here with exact ones. progress, when
// set, is called after each cell with the cells done and their number.
func Sweep(e *Editor, m *captions.Measurer, set *Set, n int, imageScales, textScales []float64, o Options, reps int, progress func(done, total int)) ([]SweepCell, error) {
	if len(imageScales) == 0 || len(textScales) == 0 {
		return nil, fmt.Errorf("a sweep needs at least one image scale and one text scale")
	}
	var out []SweepCell
	total := len(imageScales) * len(textScales)
	for _, si := range imageScales {
		for _, st := range textScales {
			oo := o
			oo.TextScale, oo.ImageScale = st, si
			r, err := e.Evaluate(m, set, n, oo, reps, nil)
			if err != nil {
				return nil, fmt.Errorf("s_T %g, s_I %g: %w", st, si, err)
			}
			out = append(out, SweepCell{TextScale: st, ImageScale: si, Report: r.Report})
			if progress != nil {
				progress(len(out), total)
			}
		}
	}
	return out, nil
}

// SweepPlot draws edit success (x) against preservation (y), one line per
// image scale along the text scales, for each named sweep (the three-pass
// editor's solid, a student's dashed).
func SweepPlot(title string, sweeps map[string][]SweepCell, order []string) (*plot.Plot, error) {
	var series []plots.Series
	for k, name := range order {
		cells := sweeps[name]
		byImage := map[float64][]SweepCell{}
		var images []float64
		for _, c := range cells {
			if _, ok := byImage[c.ImageScale]; !ok {
				images = append(images, c.ImageScale)
			}
			byImage[c.ImageScale] = append(byImage[c.ImageScale], c)
		}
		for i, si := range images {
			var ts []string
			for _, c := range byImage[si] {
				ts = append(ts, fmt.Sprintf("%g", c.TextScale))
			}
			s := plots.Series{Name: fmt.Sprintf("%s, s_I %g (s_T %s)", name, si, strings.Join(ts, "→")), Color: plots.Viridis(float64(i) / math.Max(1, float64(len(images)-1)))}
			if k > 0 {
				s.Style = plots.DashedLine
			}
			for _, c := range byImage[si] {
				s.X = append(s.X, c.Report.Success.Share.Value)
				s.Y = append(s.Y, c.Report.Preserved.Share.Value)
			}
			series = append(series, s)
		}
	}
	return plots.Lines(title, "edit success", "preservation", series)
}

// WriteSweepTable writes the cells as a Markdown table.
func WriteSweepTable(w io.Writer, cells []SweepCell) {
	fmt.Fprintf(w, "| s_I | s_T | edit success | preservation | PSNR (dB) | L1 outside |\n|---|---|---|---|---|---|\n")
	for _, c := range cells {
		r := c.Report
		fmt.Fprintf(w, "| %g | %g | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] | %.2f | %.4f |\n", c.ImageScale, c.TextScale,
			r.Success.Share.Value, r.Success.Share.Lo, r.Success.Share.Hi, r.Preserved.Share.Value, r.Preserved.Share.Lo, r.Preserved.Share.Hi, r.PSNR.Value, r.L1Out.Value)
	}
}
