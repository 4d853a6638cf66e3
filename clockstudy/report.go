package clockstudy

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/provenance"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/plots"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/train"
)

// Results indexes a study's records.
type Results struct {
	Config Config
	byKey  map[string]Result
	order  []Method
}

// Decode reads a study's records.
func Decode(c Config, records []study.Record) (*Results, error) {
	r := &Results{Config: c, byKey: map[string]Result{}}
	for _, rec := range records {
		var res Result
		if err := json.Unmarshal(rec.Result, &res); err != nil {
			return nil, fmt.Errorf("record %s: %w", rec.Key, err)
		}
		r.byKey[rec.Key] = res
	}
	for _, m := range c.Methods {
		if _, ok := r.byKey[m.Key()]; ok {
			r.order = append(r.order, m)
		}
	}
	return r, nil
}

// Get returns a method's result.
func (r *Results) Get(m Method) (Result, bool) {
	res, ok := r.byKey[m.Key()]
	return res, ok
}

// find returns the first method of the study matching the predicate.
func (r *Results) find(f func(Method) bool) (Method, Result, bool) {
	for _, m := range r.order {
		if f(m) {
			return m, r.byKey[m.Key()], true
		}
	}
	return Method{}, Result{}, false
}

func (r *Results) teacherAt(sampler string, steps int) (Result, bool) {
	_, res, ok := r.find(func(m Method) bool { return m.Kind == "teacher" && m.Sampler == sampler && m.Steps == steps })
	return res, ok
}

// main returns the study's reference: the teacher at 8 DPM-Solver++ steps.
func (r *Results) base() (Result, bool) { return r.teacherAt("dpmpp2m", 8) }

// inGroup returns the methods of a group, in study order.
func (r *Results) inGroup(g string) []Method {
	var out []Method
	for _, m := range r.order {
		if slices.Contains(m.Groups, g) {
			out = append(out, m)
		}
	}
	return out
}

// ivs3 formats a share with three decimals.
func ivs3(p *metrics.Interval) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", p.Value, p.Lo, p.Hi)
}

func ivs(p *metrics.Interval) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f [%.2f, %.2f]", p.Value, p.Lo, p.Hi)
}

// Groups lists the tables of tables.md: name and title.
var Groups = [][2]string{
	{"headline", "Headline: Clockwork against the teacher at 8 and at fewer steps (paper Tab. 1, Fig. 1)"},
	{"ladder", "The ladder of approximations under clock 2 (paper Tab. 4; Block Caching's scale-shift; DeepCache's identity)"},
	{"fewer", "The teacher at fewer steps, of about Clockwork's cost"},
	{"clock", "Clocks 2, 3 and 4"},
	{"placement", "Placement of the adaptor steps (paper Tab. 3)"},
	{"inputs", "Adaptor inputs (paper Tab. 5)"},
	{"data8", "Unrolled trajectories against forward-noised images, 8 steps (paper Fig. 7)"},
	{"data4", "Unrolled trajectories against forward-noised images, 4 steps (paper Fig. 7)"},
	{"depth", "Cut depth (paper Sec. 4.2)"},
	{"sampler", "Samplers: DPM-Solver++(2M) and DDIM (paper Sec. 5.3)"},
	{"steps", "Step counts 4, 8 and 16"},
	{"multistep", "Beyond the paper: one adaptor for 4, 8 and 16 steps (conditioned on the step size) against one per step count, the limitation the paper states"},
	{"sensitivity", "Beyond the paper: adaptor steps chosen where the core's perturbation changes the samples least, against clock 2 at equal FLOPs"},
	{"text", "The adaptor with and without the pooled text (paper Tab. 5)"},
}

// ceiling returns the real images' prompt adherence of the study (their
// mean share, or with all the share with every attribute), nil without
// prompts.
func (r *Results) ceiling(all bool) *metrics.Interval {
	for _, m := range r.order {
		if p := r.byKey[m.Key()].Prompts; p != nil {
			if all {
				return &p.Ceiling.All
			}
			return &p.Ceiling.Share
		}
	}
	return nil
}

// prompted reports whether the study's cells measured prompt adherence (a
// text-conditioned teacher's).
func (r *Results) prompted() bool {
	for _, res := range r.byKey {
		if res.Prompts != nil {
			return true
		}
	}
	return false
}

// table writes a markdown table of methods.
func (r *Results) table(w io.Writer, methods []Method) {
	base, hasBase := r.base()
	prompted := r.prompted()
	if prompted {
		fmt.Fprintln(w, "| method | GFLOPs/sample | FLOPs saved | ms/sample | wall-time speed-up | FID-MNIST | KID | prompt adherence | whole prompt | L2 to teacher | PSNR to teacher (dB) |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	} else {
		fmt.Fprintln(w, "| method | GFLOPs/sample | FLOPs saved | ms/sample | wall-time speed-up | FID-MNIST | KID | class accuracy | L2 to teacher | PSNR to teacher (dB) |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	}
	for _, m := range methods {
		res := r.byKey[m.Key()]
		saved, speed := "", ""
		if hasBase {
			saved = fmt.Sprintf("%.2f×", base.GFLOPs/res.GFLOPs)
			speed = fmt.Sprintf("%.2f×", base.MsPerSample/res.MsPerSample)
			if res.Host != base.Host {
				speed = "— (other host)"
			}
			if t := res.Timing; t != nil {
				speed = fmt.Sprintf("%.2f× [%.2f, %.2f]", t.Speedup.Value, t.Speedup.Lo, t.Speedup.Hi)
			}
		}
		label := m.Label()
		if leastSensitiveCount(m.Schedule) > 0 && res.Schedule != "" {
			label += " " + res.Schedule
		}
		if prompted {
			var share, all *metrics.Interval
			if p := res.Prompts; p != nil {
				share, all = &p.Samples.Share, &p.Samples.All
			}
			fmt.Fprintf(w, "| %s | %.3f | %s | %.2f | %s | %s | %s | %s | %s | %s | %s |\n", label, res.GFLOPs, saved, res.MsPerSample, speed,
				ivs(&res.FID), ivs(&res.KID), ivs3(share), ivs3(all), ivs(res.L2), ivs(res.PSNR))
			continue
		}
		fmt.Fprintf(w, "| %s | %.3f | %s | %.2f | %s | %s | %s | %s | %s | %s |\n", label, res.GFLOPs, saved, res.MsPerSample, speed,
			ivs(&res.FID), ivs(&res.KID), ivs(res.Accuracy), ivs(res.L2), ivs(res.PSNR))
	}
}

// Report writes results.csv, tables.md, the figures and summary.md into
// dir and returns the figures' PNG names.
func Report(dir string, r *Results) ([]string, error) {
	if err := r.writeCSV(filepath.Join(dir, "results.csv")); err != nil {
		return nil, err
	}
	err := fsutil.WriteAtomic(filepath.Join(dir, "tables.md"), func(w io.Writer) error {
		against := "FID-MNIST, KID and class accuracy against the MNIST test set"
		if r.prompted() {
			against = fmt.Sprintf("guidance %g; FID-MNIST and KID against the captioned digits' test images, whose captions are the prompts; prompt adherence the mean share of a prompt's attributes the samples have, whole prompt the share with all (real images: %s and %s)",
				r.Config.Guidance, ivs3(r.ceiling(false)), ivs3(r.ceiling(true)))
		}
		fmt.Fprintf(w, "# Clockwork study: tables\n\nTeacher %s; %d samples per cell, seed %d; "+strings.ReplaceAll(against, "%", "%%")+", L2 and PSNR to the teacher's samples from the same noise and labels (the teacher at the same sampler and steps for Clockwork and custom cells, at 8 DPM-Solver++ steps for the teacher's); 95%% intervals. Wall time: every cell but the 8-step teacher's timed against it in %d alternating rounds of a batch of %d in one process (ms/sample is the cell's median round, the speed-up the median of the rounds' ratios, least and greatest in brackets). FLOPs saved and speed-up are against the teacher at 8 DPM-Solver++ steps.\n\n",
			r.Config.Model, r.Config.N, r.Config.Seed, r.Config.TimeRounds, r.Config.TimeBatch)
		for _, g := range Groups {
			ms := r.inGroup(g[0])
			if len(ms) == 0 {
				continue
			}
			fmt.Fprintf(w, "## %s\n\n", g[1])
			r.table(w, ms)
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "## Adaptors\n\n| adaptor | parameters | MFLOPs/sample | validation loss | identity's loss | epochs | distillation time |\n|---|---|---|---|---|---|---|")
		for _, m := range r.order {
			res := r.byKey[m.Key()]
			if a := res.Adaptor; a != nil && m.Trained() {
				fmt.Fprintf(w, "| %s | %d | %.2f | %.5f | %.5f | %d | %.0f s |\n", m.Label(), a.Params, a.MFLOPs, a.ValLoss, a.IdentityValLoss, a.Epochs, a.Seconds)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	figs, err := r.figures(dir)
	if err != nil {
		return nil, err
	}
	sum := r.Summary(figs)
	err = fsutil.WriteAtomic(filepath.Join(dir, "summary.md"), func(w io.Writer) error {
		_, err := io.WriteString(w, sum+provenance.Section(dir))
		return err
	})
	return figs, err
}

func (r *Results) writeCSV(path string) error {
	return fsutil.WriteAtomic(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"key", "method", "kind", "sampler", "steps", "schedule", "depth", "no_prev", "data", "groups", "n",
			"gflops", "ms_per_sample", "fid", "fid_lo", "fid_hi", "kid", "kid_lo", "kid_hi", "accuracy", "accuracy_lo", "accuracy_hi",
			"l2", "l2_lo", "l2_hi", "psnr", "psnr_lo", "psnr_hi", "adaptor_params", "adaptor_mflops", "val_loss", "identity_val_loss", "distill_seconds",
			"prompt_adherence", "prompt_adherence_lo", "prompt_adherence_hi", "whole_prompt", "whole_prompt_lo", "whole_prompt_hi"})
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
		iv := func(p *metrics.Interval) []string {
			if p == nil {
				return []string{"", "", ""}
			}
			return []string{f(p.Value), f(p.Lo), f(p.Hi)}
		}
		for _, m := range r.order {
			res := r.byKey[m.Key()]
			row := []string{m.Key(), m.Label(), m.Kind, m.Sampler, strconv.Itoa(m.Steps), m.Schedule, strconv.Itoa(m.Depth), strconv.FormatBool(m.NoPrev), m.Data,
				strings.Join(m.Groups, " "), strconv.Itoa(res.N), f(res.GFLOPs), f(res.MsPerSample)}
			row = append(row, iv(&res.FID)...)
			row = append(row, iv(&res.KID)...)
			row = append(row, iv(res.Accuracy)...)
			row = append(row, iv(res.L2)...)
			row = append(row, iv(res.PSNR)...)
			if a := res.Adaptor; a != nil {
				row = append(row, strconv.Itoa(a.Params), f(a.MFLOPs), f(a.ValLoss), f(a.IdentityValLoss), f(a.Seconds))
			} else {
				row = append(row, "", "", "", "", "")
			}
			if p := res.Prompts; p != nil {
				row = append(row, iv(&p.Samples.Share)...)
				row = append(row, iv(&p.Samples.All)...)
			} else {
				row = append(row, "", "", "", "", "", "")
			}
			cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	})
}

// short labels a point in a crowded figure.
func short(m Method) string {
	if m.Kind == "teacher" {
		return fmt.Sprintf("teacher %d", m.Steps)
	}
	s := m.Kind + " " + strings.TrimPrefix(scheduleLabel(m.Schedule), "clock ")
	if m.Depth != 1 {
		s += " cut2"
	}
	if m.NoPrev {
		s += " no-prev"
	}
	if m.Data == "noised" {
		s += " noised"
	}
	if len(m.StepCounts) > 0 {
		s += " multi"
	}
	if m.Sampler != "dpmpp2m" {
		s += " " + m.Sampler
	}
	return s
}

func (r *Results) figures(dir string) ([]string, error) {
	var figs []string
	// Pareto figures over the DPM-Solver++ cells of 8 steps or fewer.
	var pts []Method
	for _, m := range r.order {
		if m.Sampler == "dpmpp2m" && m.Steps <= 8 && (m.Steps == 8 || m.Kind == "teacher") && len(m.StepCounts) == 0 {
			pts = append(pts, m)
		}
	}
	for _, f := range []struct {
		name, title, xl, yl string
		x                   func(Result) float64
		y                   func(Result) (float64, float64, float64, bool)
	}{
		{"pareto_flops_fid", "FID-MNIST against FLOPs", "GFLOPs per sample", "FID-MNIST",
			func(r Result) float64 { return r.GFLOPs }, func(r Result) (float64, float64, float64, bool) { return r.FID.Value, r.FID.Lo, r.FID.Hi, true }},
		{"pareto_time_fid", "FID-MNIST against wall time", "ms per sample", "FID-MNIST",
			func(r Result) float64 { return r.MsPerSample }, func(r Result) (float64, float64, float64, bool) { return r.FID.Value, r.FID.Lo, r.FID.Hi, true }},
		{"pareto_flops_l2", "Distance to the teacher's samples against FLOPs", "GFLOPs per sample", "L2 to the 8-step teacher",
			func(r Result) float64 { return r.GFLOPs }, func(r Result) (float64, float64, float64, bool) {
				if r.L2 == nil {
					return 0, 0, 0, true
				}
				return r.L2.Value, r.L2.Lo, r.L2.Hi, true
			}},
	} {
		var ps []plots.Point
		for _, m := range pts {
			res := r.byKey[m.Key()]
			y, lo, hi, ok := f.y(res)
			if !ok {
				continue
			}
			ps = append(ps, plots.Point{Label: short(m), X: f.x(res), Y: y, YLo: lo, YHi: hi, Highlight: m.Kind == "resnet"})
		}
		if len(ps) < 2 {
			continue
		}
		p, err := plots.Pareto(f.title, f.xl, f.yl, ps, "teacher, other adaptors", "ResNet adaptor")
		if err != nil {
			return nil, err
		}
		name, err := plots.SaveBoth(dir, f.name, func(path string) error { return plots.Save(p, path, plots.PageWidth, 1.4*plots.FigHeight) })
		if err != nil {
			return nil, err
		}
		figs = append(figs, name)
	}
	// Sample grid: the teacher, the Clockwork methods at 8 steps and the
	// teacher at fewer steps, from the same noise.
	sh := r.Config.Shape
	per := sh[0] * sh[1] * sh[2]
	var rows []string
	var x []float32
	k := r.Config.Keep
	for _, m := range r.order {
		res := r.byKey[m.Key()]
		if res.Samples == "" || m.Sampler != "dpmpp2m" || !(m.Steps == 8 || slices.Contains(m.Groups, "fewer")) {
			continue
		}
		if m.Clockwork() && (m.Schedule != "clock:2" || m.Depth != 1 || m.NoPrev || m.Data == "noised" || len(m.StepCounts) > 0) {
			continue
		}
		s, err := study.DecodeSamples(res.Samples)
		if err != nil || len(s) < k*per {
			continue
		}
		rows = append(rows, short(m))
		x = append(x, s[:k*per]...)
	}
	if len(rows) > 1 && k > 0 {
		p, err := plots.Grid("Samples from the same noise", x, len(rows)*k, sh[0], sh[1], sh[2], k, rows, nil)
		if err != nil {
			return nil, err
		}
		name, err := plots.SaveBoth(dir, "samples", func(path string) error {
			return plots.Save(p, path, vg.Length(k)*0.55*vg.Inch+1.4*vg.Inch, vg.Length(len(rows))*0.55*vg.Inch+0.4*vg.Inch)
		})
		if err != nil {
			return nil, err
		}
		figs = append(figs, name)
	}
	// Distillation curves: each adaptor's validation loss by epoch, and the
	// identity adaptor's on the same records.
	var series []plots.Series
	var idLoss float64
	for _, m := range r.order {
		res := r.byKey[m.Key()]
		if res.Adaptor == nil || !m.Trained() || m.Sampler != "dpmpp2m" || m.Steps != 8 {
			continue
		}
		ep, val, id := readCurve(filepath.Join(res.Adaptor.Dir, train.MetricsFile))
		if len(ep) == 0 {
			continue
		}
		if m.Schedule == "clock:2" && m.Depth == 1 && !m.NoPrev && m.Data != "noised" && len(m.StepCounts) == 0 {
			idLoss = id
		}
		series = append(series, plots.Series{Name: short(m), X: ep, Y: val, NoMarkers: true})
	}
	if len(series) > 0 {
		if idLoss > 0 {
			x0, x1 := series[0].X[0], series[0].X[len(series[0].X)-1]
			for _, s := range series {
				x1 = math.Max(x1, s.X[len(s.X)-1])
			}
			series = append(series, plots.Series{Name: "identity (clock 2)", X: []float64{x0, x1}, Y: []float64{idLoss, idLoss}, Dashed: true, NoMarkers: true})
		}
		p, err := plots.Lines("Distillation: validation loss on r_out", "epoch", "mean squared error", series)
		if err != nil {
			return nil, err
		}
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plots.LogTicks{}
		plots.NiceLog(&p.Y)
		name, err := plots.SaveBoth(dir, "distill_curves", func(path string) error { return plots.Save(p, path, plots.PageWidth, 1.4*plots.FigHeight) })
		if err != nil {
			return nil, err
		}
		figs = append(figs, name)
	}
	return figs, nil
}

// readCurve reads an adaptor's metrics.jsonl: epochs, validation losses,
// and the last identity loss.
func readCurve(path string) (ep, val []float64, id float64) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m struct {
			Step            int     `json:"step"`
			ValLoss         float64 `json:"val_loss"`
			IdentityValLoss float64 `json:"identity_val_loss"`
		}
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.ValLoss > 0 {
			ep = append(ep, float64(m.Step))
			val = append(val, m.ValLoss)
			id = m.IdentityValLoss
		}
	}
	return ep, val, id
}
