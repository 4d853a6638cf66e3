package segment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/plots"
	"github.com/clockwork-go/clockwork/scenes"
	"github.com/clockwork-go/clockwork/segment"
	"github.com/clockwork-go/clockwork/train"
)

// studyRun is one run of the study.
type studyRun struct {
	name      string
	variant   string
	weightMap bool
}

// studyRuns are the study's runs: the three variants with the weight map,
// and the plain U-Net without it.
var studyRuns = []studyRun{
	{"unet", segment.UNet, true},
	{"attention", segment.Attention, true},
	{"residual", segment.Residual, true},
	{"unet-no-weight-map", segment.UNet, false},
}

// studyReport is the study's study.json.
type studyReport struct {
	Runs []*result `json:"runs"`
	// Ceiling is the separation the true semantic masks allow.
	Ceiling float64 `json:"separation_ceiling"`
	// Difference is the share of touching pairs separated with the
	// weight map minus without it (the plain U-Net's two runs), with a
	// paired bootstrap interval.
	Difference segment.Interval `json:"weight_map_separation_difference"`
	// Verdict says whether the weight map improved separation.
	Verdict string `json:"weight_map_verdict"`
}

// study trains the runs in dir (each resumable: a run interrupted
// continues where it stopped, a complete one is only evaluated) and
// writes the comparison.
func (r runner) study(ctx context.Context, dir string, cfg segment.Config, opts segment.TrainOptions) int {
	c := r.c
	if err := fsutil.CheckOutDir("-study", dir); err != nil {
		return c.Usage("%v", err)
	}
	var res []*result
	for _, sr := range studyRuns {
		rc, ro := cfg, opts
		rc.Variant, ro.WeightMap = sr.variant, sr.weightMap
		sub := filepath.Join(dir, sr.name)
		has, err := train.HasCheckpoint(sub)
		if err != nil {
			return c.Fail(err)
		}
		rr, err := r.train(ctx, sub, rc, ro, has)
		if errors.Is(err, train.ErrInterrupted) {
			return c.Interrupted("checkpoint written. Continue with the same command line: the study resumes its runs")
		}
		if err != nil {
			return c.Fail(fmt.Errorf("%s: %w", sub, err))
		}
		res = append(res, rr)
	}
	rep := studyReport{Runs: res, Ceiling: res[0].Report.TruthSeparated}
	set, err := scenes.Open("test", r.n)
	if err != nil {
		return c.Fail(err)
	}
	// The weight map's effect: the plain U-Net with it against without,
	// a paired bootstrap over the same scenes.
	d := segment.Interval{Value: -1, Lo: -1, Hi: -1}
	if res[0].Report.Pairs > 0 {
		if d, err = segment.SeparationDifference(set, res[0].masks, res[3].masks, 1000, r.seed); err != nil {
			return c.Fail(err)
		}
	}
	rep.Difference = d
	with, without := res[0].Report.Separated, res[3].Report.Separated
	switch {
	case res[0].Report.Pairs == 0:
		rep.Verdict = "not measured: the held-out scenes hold no touching pairs"
	case d.Lo > 0:
		rep.Verdict = "the weight map improves separation"
	case d.Hi < 0:
		rep.Verdict = "the weight map worsens separation"
	default:
		rep.Verdict = "no difference shown"
	}
	if res[0].Report.Pairs > 0 {
		rep.Verdict += fmt.Sprintf(": %s of the touching pairs kept apart with it, %s without; the difference %s (paired bootstrap over the scenes)", with, without, d)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| run | mean IoU | mean Dice | pixel accuracy | touching pairs separated | train time |\n|---|---|---|---|---|---|\n")
	f := segment.Interval.String
	for _, rr := range res {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.0f s |\n", rr.Name, f(rr.Report.MeanIoU), f(rr.Report.MeanDice), f(rr.Report.PixelAccuracy), f(rr.Report.Separated), rr.Seconds)
	}
	fmt.Fprintf(&b, "\n%d held-out scenes, %d touching pairs; the true masks separate %.3f of them (two touching digits of one class are one region in the semantic mask). %d steps of %d scenes each, seed %d, %s padding, depth %d, width %d.\n\nWeight map: %s.\n",
		res[0].Report.Scenes, res[0].Report.Pairs, rep.Ceiling, opts.Steps, opts.Batch, r.seed, cfg.Padding, cfg.Depth, cfg.Width, rep.Verdict)
	c.Printf("\n%s", b.String())
	if err := os.WriteFile(filepath.Join(dir, "table.md"), []byte(b.String()), 0o644); err != nil {
		return c.Fail(err)
	}
	if err := c.WriteStamped(filepath.Join(dir, "study.json"), rep); err != nil {
		return c.Fail(err)
	}
	if err := studyFigures(dir, res, set.Config.Size); err != nil {
		return c.Fail(err)
	}
	c.Printf("wrote %s: table.md, study.json, curves, per-class IoU and overlays\n", dir)
	return 0
}

// studyFigures draws the learning curves, the per-class IoU bars and the
// overlays of the first held-out scenes.
func studyFigures(dir string, res []*result, size int) error {
	var series []plots.Series
	for _, rr := range res {
		series = append(series, plots.Series{Name: rr.Name, X: rr.curve[0], Y: smooth(rr.curve[1], 0.9)})
	}
	p, err := plots.Lines("training loss (smoothed)", "step", "loss", series)
	if err != nil {
		return err
	}
	if _, err := plots.SaveBoth(dir, "curves", func(path string) error { return plots.Save(p, path, plots.ColumnWidth, plots.FigHeight) }); err != nil {
		return err
	}
	var groups []string
	for cl := range scenes.Classes {
		groups = append(groups, strings.TrimPrefix(segment.ClassName(cl), "digit "))
	}
	var bars []plots.BarSeries
	for _, rr := range res {
		bs := plots.BarSeries{Name: rr.Name}
		for cl := range scenes.Classes {
			bs.Values = append(bs.Values, rr.Report.IoU[cl])
			bs.Lo = append(bs.Lo, rr.Report.IoUCI[cl][0])
			bs.Hi = append(bs.Hi, rr.Report.IoUCI[cl][1])
		}
		bars = append(bars, bs)
	}
	bp, err := plots.Bars("per-class IoU on held-out scenes (95% intervals)", "IoU", groups, bars)
	if err != nil {
		return err
	}
	if _, err := plots.SaveBoth(dir, "iou", func(path string) error { return plots.Save(bp, path, plots.PageWidth, plots.FigHeight) }); err != nil {
		return err
	}
	// Overlays: input, truth, then each run, for the first scenes.
	rows := min(4, len(res[0].masks)/(size*size))
	set, err := scenes.Open("test", rows)
	if err != nil {
		return err
	}
	px := size * size
	x := make([]float32, rows*px)
	idx := make([]int, rows)
	for i := range idx {
		idx[i] = i
	}
	set.Batch(idx, x, nil)
	var fig []float32
	cols := []string{"input", "truth"}
	for _, rr := range res {
		cols = append(cols, rr.Name)
	}
	for i := range rows {
		img := x[i*px : (i+1)*px]
		_, sem, _ := set.Scene(i)
		fig = append(fig, segment.Overlay(img, make([]uint8, px))...)
		fig = append(fig, segment.Overlay(img, sem)...)
		for _, rr := range res {
			fig = append(fig, segment.Overlay(img, rr.masks[i*px:(i+1)*px])...)
		}
	}
	rowNames := make([]string, rows)
	for i := range rows {
		rowNames[i] = fmt.Sprintf("scene %d", i)
	}
	gp, err := plots.Grid("held-out scenes: truth and each run's prediction", fig, rows*len(cols), 3, size, size, len(cols), rowNames, cols)
	if err != nil {
		return err
	}
	_, err = plots.SaveBoth(dir, "overlays", func(path string) error {
		return plots.Save(gp, path, plots.PageWidth, vg.Length(float64(plots.PageWidth)*float64(rows)/float64(len(cols))+40))
	})
	return err
}

// smooth returns the exponential moving average of v with factor a,
// bias-corrected.
func smooth(v []float64, a float64) []float64 {
	out := make([]float64, len(v))
	m, w := 0.0, 0.0
	for i, x := range v {
		m = a*m + (1-a)*x
		w = a*w + (1 - a)
		out[i] = m / w
	}
	return out
}
