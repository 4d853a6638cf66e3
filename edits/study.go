package edits

import (
	"fmt"
	"io"
	"reflect"
	"slices"

	"gonum.org/v1/plot"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/plots"
)

// Method is one way of editing in the savings study: an editor (three-pass
// or guidance-distilled) at some steps and scales, with Clockwork or not,
// each instruction in one edit or its clauses in turn (Options.Chain).
type Method struct {
	Name    string
	Editor  *Editor
	Options Options
	// Adaptor is a Clockwork adaptor of the editor's U-Net: "identity" or
	// a distilled adaptor's directory ("" for none); Clock its clock
	// ("clock:2", "2,4,6"; "" for the adaptor's own).
	Adaptor, Clock string
}

// base returns the method's unguided denoiser: the editor's model, or
// Clockwork on it.
func (m Method) base() (diffusion.Denoiser, error) {
	if m.Adaptor == "" {
		return &diffusion.ModelDenoiser{Model: m.Editor.Model}, nil
	}
	cw, _, err := distill.OpenFrom(m.Editor.Model, m.Adaptor, 1, m.Options.Sampler, m.Options.Steps, m.Options.Strength, m.Clock, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	return cw, nil
}

// StudyRow is a method's row of the savings study.
type StudyRow struct {
	Name  string `json:"name"`
	Steps int    `json:"steps"`
	// Chained is set for a method that edits an instruction's clauses in
	// turn (Steps steps each).
	Chained bool `json:"chained,omitempty"`
	// Strength is set for a method that starts each edit from its source
	// part-way (Options.Strength): it runs Run of the Steps steps.
	Strength float64 `json:"strength,omitempty"`
	Run      int     `json:"steps_run,omitempty"`
	// GFLOPs per edit, counted as the method ran (the text encoder once
	// per edit included), and the reference's over it.
	GFLOPs float64 `json:"gflops_per_edit"`
	Saved  float64 `json:"flops_saved"`
	// Timing is the paired wall time against the reference (none for the
	// reference itself).
	Timing *evaluate.PairedTiming `json:"timing,omitempty"`
	Report Report                 `json:"report"`
}

// StudySetup says which pairs, noise and timing a study uses.
type StudySetup struct {
	N, Batch  int    // held-out pairs, and the sampling batch
	Seed      uint64 // noise
	TimeBatch int    // edits per timed round
	Rounds    int    // timed rounds (0: no timing)
	Reps      int    // bootstrap resamples
}

// Study edits the first s.N pairs of set with every method, the same pairs
// and noise for all, and measures each (Evaluate, Summarise), its FLOPs as
// counted and its wall time paired with methods[0], the reference
// (evaluate.TimeRuns). It returns the rows and each method's edits. Every
// method's editor must embed the instructions as the reference's does (a
// guidance-distilled student keeps its teacher's text encoder). A chained
// method (Options.Chain) edits the clauses in turn as Editor.Edit does, its
// first clause from the noise the others use, and is timed and counted
// over all its clause edits, the text encoder once per clause (its timed
// runs encode the clauses, as an edit does; the others' use the
// embeddings made once).
func Study(methods []Method, m *captions.Measurer, set *Set, s StudySetup, progress func(name string)) ([]StudyRow, [][]float32, error) {
	if len(methods) == 0 {
		return nil, nil, fmt.Errorf("a study needs methods")
	}
	if s.N <= 0 || s.N > set.Len() || s.Batch <= 0 {
		return nil, nil, fmt.Errorf("study of %d pairs of %d in batches of %d", s.N, set.Len(), s.Batch)
	}
	for _, me := range methods {
		if me.Options.Compose > 1 {
			return nil, nil, fmt.Errorf("%s: a study runs each editor as it is: composed clauses (Options.Compose) are for Editor.Edit", me.Name)
		}
	}
	ref := methods[0].Editor
	sub := set.Subset(s.N)
	per := ref.Shape[0] * ref.Shape[1] * ref.Shape[2]
	idx := make([]int, s.N)
	for i := range idx {
		idx[i] = i
	}
	src := make([]float32, s.N*per)
	sub.Data.Inputs.Batch(idx, src, nil)
	cond, err := diffusion.PromptCond(ref.Text, sub.Phrases())
	if err != nil {
		return nil, nil, err
	}
	cond.Pooled = nil
	cond.Image = tensor.New(tensor.WithShape(append([]int{s.N}, ref.Shape...)...), tensor.WithBacking(src))
	for _, me := range methods[1:] {
		if !reflect.DeepEqual(me.Editor.Noise.Config, ref.Noise.Config) {
			return nil, nil, fmt.Errorf("%s: its noise schedule is not the reference's: the study samples and times every method on one", me.Name)
		}
		c, err := diffusion.PromptCond(me.Editor.Text, sub.Phrases()[:1])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", me.Name, err)
		}
		if !slices.Equal(c.Text.Float32s(), cond.Text.Float32s()[:len(c.Text.Float32s())]) {
			return nil, nil, fmt.Errorf("%s: its text encoder embeds the instructions otherwise than the reference's", me.Name)
		}
	}
	tb := min(s.TimeBatch, s.N)
	timeCond := cond.Slice(0, tb)
	var rows []StudyRow
	var outs [][]float32
	var refTimed evaluate.Timed
	for k, me := range methods {
		if progress != nil {
			progress(me.Name)
		}
		base, err := me.base()
		if err != nil {
			return nil, nil, err
		}
		o := me.Options
		o.Seed, o.Batch, o.SharedNoise = s.Seed, s.Batch, false
		var out []float32
		var timed evaluate.Timed
		f0, _ := diffusion.CountedFLOPs(base)
		if o.Chain {
			if out, err = me.Editor.chain(base, src, s.N, sub.Phrases(), o, nil); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", me.Name, err)
			}
			timed = evaluate.Timed{Name: me.Name, Denoiser: base, Run: func() error {
				_, err := me.Editor.chain(base, src[:tb*per], tb, sub.Phrases()[:tb], o, nil)
				return err
			}}
		} else {
			d, err := me.Editor.Wrap(base, o)
			if err != nil {
				return nil, nil, err
			}
			x, err := diffusion.SampleMany(d, me.Editor.Noise, ref.Shape, s.N, s.Batch, o.Sampling(cond, src, nil), nil)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", me.Name, err)
			}
			out = diffusion.ClipImages(x.Float32s())
			timed = evaluate.Timed{Name: me.Name, Denoiser: base, Run: func() error {
				_, err := diffusion.SampleMany(d, me.Editor.Noise, ref.Shape, tb, tb, o.Sampling(timeCond, src[:tb*per], nil), nil)
				return err
			}}
		}
		f1, _ := diffusion.CountedFLOPs(base)
		res, err := Evaluate(m, sub, out, s.N)
		if err != nil {
			return nil, nil, err
		}
		rep, err := Summarise(sub, res, s.Reps, s.Seed+1)
		if err != nil {
			return nil, nil, err
		}
		// Every method's text encoder embeds as the reference's (above).
		g, err := ref.CountedGFLOPs(o, sub.Phrases(), f1-f0)
		if err != nil {
			return nil, nil, err
		}
		row := StudyRow{Name: me.Name, Steps: o.Steps, Chained: o.Chain, GFLOPs: g, Report: rep}
		if k, _ := diffusion.StepsFrom(o.Steps, o.Strength); k != o.Steps {
			row.Strength, row.Run = o.Strength, k
		}
		if k == 0 {
			refTimed = timed
		} else if s.Rounds > 0 {
			t, err := evaluate.TimeRuns(refTimed, timed, tb, s.Rounds)
			if err != nil {
				return nil, nil, err
			}
			row.Timing = &t
		}
		rows = append(rows, row)
		outs = append(outs, out)
	}
	for i := range rows {
		rows[i].Saved = rows[0].GFLOPs / rows[i].GFLOPs
	}
	return rows, outs, nil
}

// WriteStudyTable writes the study's rows as a Markdown table.
func WriteStudyTable(w io.Writer, rows []StudyRow) {
	fmt.Fprintf(w, "| method | steps | GFLOPs/edit | FLOPs saved | wall-time speed-up | edit success | preservation | PSNR (dB) | L1 outside |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		sp := "1.00×"
		if t := r.Timing; t != nil {
			sp = fmt.Sprintf("%.2f× [%.2f, %.2f]", t.Speedup.Value, t.Speedup.Lo, t.Speedup.Hi)
			if t.MedianCI.Value > 0 {
				sp = fmt.Sprintf("%.2f× [%.2f, %.2f]", t.Speedup.Value, t.MedianCI.Lo, t.MedianCI.Hi)
			}
		}
		p := r.Report
		steps := fmt.Sprint(r.Steps)
		if r.Run > 0 {
			steps = fmt.Sprintf("%d of %d", r.Run, r.Steps)
		}
		if r.Chained {
			steps += " per clause"
		}
		fmt.Fprintf(w, "| %s | %s | %.3f | %.2f× | %s | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] | %s | %s |\n", r.Name, steps, r.GFLOPs, r.Saved, sp,
			p.Success.Share.Value, p.Success.Share.Lo, p.Success.Share.Hi, p.Preserved.Share.Value, p.Preserved.Share.Lo, p.Preserved.Share.Hi, p.PSNR, p.L1Out)
	}
}

// StudyPlot draws edit failures (1 − success, with intervals) against
// GFLOPs per edit, the Pareto-optimal methods joined.
func StudyPlot(rows []StudyRow) (*plot.Plot, error) {
	var pts []plots.Point
	for i, r := range rows {
		s := r.Report.Success.Share
		pts = append(pts, plots.Point{Label: r.Name, X: r.GFLOPs, Y: 1 - s.Value, YLo: 1 - s.Hi, YHi: 1 - s.Lo, Highlight: i == 0})
	}
	return plots.Pareto("Exact edit quality against cost", "GFLOPs per edit", "edit failures (1 − success)", pts, "methods", "the three-pass editor")
}

// StudyStrip lays out the first k pairs: a row of sources, one of true
// edits, one per method; it returns the images and the row labels.
func StudyStrip(set *Set, rows []StudyRow, outs [][]float32, k int) ([]float32, []string) {
	const per = captions.Side * captions.Side
	k = min(k, set.Len())
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	src, tgt := make([]float32, k*per), make([]float32, k*per)
	set.Data.Inputs.Batch(idx, src, nil)
	set.Data.Batch(idx, tgt, nil)
	img := append(append([]float32(nil), src...), tgt...)
	labels := []string{"source", "true edit"}
	for i, o := range outs {
		img = append(img, o[:k*per]...)
		labels = append(labels, rows[i].Name)
	}
	return img, labels
}

// SuccessTolerance is how far below the reference's edit success a saving
// may fall and still count as keeping it.
const SuccessTolerance = 0.03

// StudyFindings states what each saving gave against the reference (the
// first row): FLOPs saved, wall time, and whether edit success stays within
// SuccessTolerance; then the cheapest method that keeps it. Where rows
// edit clauses in turn (Chained) and the reference does not, the first
// chained row is their reference too: the cheapest chained method within
// SuccessTolerance of its success, and its FLOPs against both.
func StudyFindings(rows []StudyRow) []string {
	if len(rows) == 0 {
		return nil
	}
	ref := rows[0]
	rs := ref.Report.Success.Share.Value
	var out []string
	for _, r := range rows[1:] {
		d := r.Report.Success.Share.Value - rs
		sp := "not timed"
		if r.Timing != nil {
			sp = fmt.Sprintf("%.2f× faster in wall time", r.Timing.Speedup.Value)
		}
		keep := "keeps"
		if d < -SuccessTolerance {
			keep = "loses"
		}
		out = append(out, fmt.Sprintf("%s: %.2f× fewer FLOPs, %s; edit success %+.3f against the reference (%s it within %.2f)", r.Name, r.Saved, sp, d, keep, SuccessTolerance))
	}
	if best := cheapestWithin(rows, 0, false); best > 0 {
		out = append(out, fmt.Sprintf("The cheapest method within %.2f of the reference's edit success: %s, %.2f× fewer FLOPs than %s.", SuccessTolerance, rows[best].Name, rows[best].Saved, ref.Name))
	} else {
		out = append(out, fmt.Sprintf("No method keeps the reference's edit success within %.2f.", SuccessTolerance))
	}
	if ref.Chained {
		return out
	}
	for c, r := range rows {
		if !r.Chained {
			continue
		}
		if best := cheapestWithin(rows, c, true); best > c {
			b := rows[best]
			out = append(out, fmt.Sprintf("Clauses in turn: the cheapest chained method within %.2f of the edit success of %s (%.3f): %s (%.3f), %.2f× fewer FLOPs than it and %.2f× fewer than %s.", SuccessTolerance, r.Name, r.Report.Success.Share.Value, b.Name, b.Report.Success.Share.Value, r.GFLOPs/b.GFLOPs, b.Saved, ref.Name))
		} else {
			out = append(out, fmt.Sprintf("Clauses in turn: no other chained method keeps the edit success of %s within %.2f.", r.Name, SuccessTolerance))
		}
		break
	}
	return out
}

// cheapestWithin returns the index of the row after ref with the fewest
// GFLOPs whose edit success is within SuccessTolerance of ref's (among the
// chained rows only when chained), or −1.
func cheapestWithin(rows []StudyRow, ref int, chained bool) int {
	best := -1
	for i := ref + 1; i < len(rows); i++ {
		r := rows[i]
		if chained && !r.Chained {
			continue
		}
		if r.Report.Success.Share.Value-rows[ref].Report.Success.Share.Value >= -SuccessTolerance && (best < 0 || r.GFLOPs < rows[best].GFLOPs) {
			best = i
		}
	}
	return best
}
