package videos

import (
	"fmt"
	"io"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"time"

	"gonum.org/v1/plot"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/plots"
)

// StudyMethod is one way of editing the study's videos; anchors are
// chosen per video (Count anchors by Choice) unless Count is 0.
type StudyMethod struct {
	Name    string
	Editing Editing
	Count   int
	Choice  string
}

// StudyRow is a method's row of the video study: means over videos with
// 95% bootstrap intervals over them.
type StudyRow struct {
	Name string `json:"name"`
	// GFLOPsPerFrame is the model's FLOPs per frame as counted (the
	// anchors' phase included and amortised over the video) and the text
	// encoder's once per video; Saved the first method's over it.
	GFLOPsPerFrame float64          `json:"gflops_per_frame"`
	Saved          float64          `json:"flops_saved"`
	FrameAcc       metrics.Interval `json:"frame_acc"`
	Preserved      metrics.Interval `json:"preserved"`
	PSNR           metrics.Interval `json:"psnr"`
	Warp           metrics.Interval `json:"warp_error"`
	TemCon         metrics.Interval `json:"tem_con"`
	// MsPerFrame is the median over videos of the wall time per frame;
	// Speedup the first method's over it (the methods run in turn on each
	// video, their order rotating from video to video).
	MsPerFrame float64 `json:"ms_per_frame"`
	Speedup    float64 `json:"speedup"`
	CacheMB    float64 `json:"cache_mb"`
	// PeakHeapMB is the most Go heap in use while the method edited a
	// video (the largest over the videos, each run after a collection;
	// sampled every few milliseconds, so a shorter peak can be missed):
	// the models' weights, the frames, the activations and the anchor
	// cache, and garbage not yet collected, so it moves with the
	// collector's timing: a rough figure.
	PeakHeapMB float64 `json:"peak_heap_mb"`
	// Against compares the row with each of the study's references,
	// paired over the videos (the same videos and noise for every
	// method).
	Against []Comparison `json:"against,omitempty"`
	// Videos holds the row's scores per video.
	Videos []Score `json:"videos"`
}

// Comparison is a row against a reference method, paired over the
// videos, with 95% bootstrap intervals over them: WarpFold is the
// reference's mean warp error over the row's (above 1: the row is more
// consistent), FrameAcc and PSNR the row's mean minus the reference's.
type Comparison struct {
	Reference string           `json:"reference"`
	WarpFold  metrics.Interval `json:"warp_fold"`
	FrameAcc  metrics.Interval `json:"frame_acc_diff"`
	PSNR      metrics.Interval `json:"psnr_diff"`
}

// samplePeakHeap starts sampling the bytes of heap objects in use every
// 5 ms; the function it returns stops the sampling and gives the most
// seen, the value at the call included.
func samplePeakHeap() func() uint64 {
	sample := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		rtmetrics.Read(sample)
		if sample[0].Value.Kind() != rtmetrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	peak := read()
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				peak = max(peak, read())
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return max(peak, read())
	}
}

// compare returns row scores s against reference scores r (one per
// video, in the same order), from reps bootstrap resamples.
func compare(name string, s, r []Score, reps int) (Comparison, error) {
	c := Comparison{Reference: name}
	var err error
	c.WarpFold, err = metrics.Bootstrap(len(s), reps, 2, func(idx []int) (float64, error) {
		var a, b float64
		for _, i := range idx {
			a += r[i].Warp
			b += s[i].Warp
		}
		if b == 0 {
			return 0, fmt.Errorf("a warp error of 0")
		}
		return a / b, nil
	})
	if err != nil {
		return c, err
	}
	for _, d := range []struct {
		dst *metrics.Interval
		f   func(Score) float64
	}{{&c.FrameAcc, func(x Score) float64 { return x.FrameAcc }}, {&c.PSNR, func(x Score) float64 { return x.PSNR }}} {
		diff := make([]float64, len(s))
		for i := range s {
			diff[i] = d.f(s[i]) - d.f(r[i])
		}
		if *d.dst, err = metrics.Bootstrap(len(diff), reps, 3, func(idx []int) (float64, error) {
			var t float64
			for _, i := range idx {
				t += diff[i]
			}
			return t / float64(len(idx)), nil
		}); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Study edits every video of set with every method (the same noise for
// all: the seed of each method's options), measures each edit against the
// true one (Measure) and returns the rows, the first video's edits per
// method, and the true edits' own row (the floor of the warp error). Each
// row is compared, paired over the videos, with the methods whose
// indices refs gives (StudyRow.Against).
func Study(methods []StudyMethod, refs []int, m *captions.Measurer, clf *metrics.Classifier, set *Set, reps int, progress func(done, total int)) ([]StudyRow, [][]float32, StudyRow, error) {
	nv, k := len(set.Videos), len(methods)
	if nv == 0 || k == 0 {
		return nil, nil, StudyRow{}, fmt.Errorf("a video study needs videos and methods")
	}
	for _, r := range refs {
		if r < 0 || r >= k {
			return nil, nil, StudyRow{}, fmt.Errorf("reference method %d of %d", r, k)
		}
	}
	scores := make([][]Score, k)
	ms := make([][]float64, k)
	flops := make([]float64, k)
	cache := make([]float64, k)
	peak := make([]float64, k)
	first := make([][]float32, k)
	var truth []Score
	done := 0
	for vi := range set.Videos {
		v := &set.Videos[vi]
		src := FloatFrames(v.Source)
		t := v.Frames()
		for j := range k {
			mi := (j + vi) % k // rotate the order from video to video
			me := methods[mi]
			ed := me.Editing
			if me.Count > 0 {
				a, err := ChooseAnchors(t, me.Count, me.Choice)
				if err != nil {
					return nil, nil, StudyRow{}, err
				}
				ed.Anchors = a
			}
			runtime.GC() // this method's peak, not the garbage of the last
			stop := samplePeakHeap()
			start := time.Now()
			r, err := ed.Run(src, t, v.Phrase, nil)
			peak[mi] = max(peak[mi], float64(stop())/1e6)
			if err != nil {
				return nil, nil, StudyRow{}, fmt.Errorf("%s, video %d: %w", me.Name, vi, err)
			}
			ms[mi] = append(ms[mi], float64(time.Since(start).Microseconds())/1e3/float64(t))
			sc, err := Measure(m, clf, v, r.Frames)
			if err != nil {
				return nil, nil, StudyRow{}, err
			}
			scores[mi] = append(scores[mi], sc)
			text := float64(ed.Editor.Text.FLOPs())
			flops[mi] += (float64(r.FLOPs) + text) / float64(t) / float64(nv)
			cache[mi] = max(cache[mi], float64(r.CacheBytes)/1e6)
			if vi == 0 {
				first[mi] = r.Frames
			}
			done++
			if progress != nil {
				progress(done, nv*k)
			}
		}
		sc, err := Measure(m, clf, v, FloatFrames(v.Target))
		if err != nil {
			return nil, nil, StudyRow{}, err
		}
		truth = append(truth, sc)
	}
	summarise := func(name string, s []Score) (StudyRow, error) {
		r := StudyRow{Name: name}
		get := func(f func(Score) float64) []float64 {
			out := make([]float64, len(s))
			for i, x := range s {
				out[i] = f(x)
			}
			return out
		}
		var err error
		for _, p := range []struct {
			dst *metrics.Interval
			f   func(Score) float64
		}{{&r.FrameAcc, func(x Score) float64 { return x.FrameAcc }}, {&r.Preserved, func(x Score) float64 { return x.Preserved }},
			{&r.PSNR, func(x Score) float64 { return x.PSNR }}, {&r.Warp, func(x Score) float64 { return x.Warp }}, {&r.TemCon, func(x Score) float64 { return x.TemCon }}} {
			if *p.dst, err = metrics.Mean(get(p.f), reps, 1); err != nil {
				return r, err
			}
		}
		return r, nil
	}
	var rows []StudyRow
	for i, me := range methods {
		r, err := summarise(me.Name, scores[i])
		if err != nil {
			return nil, nil, StudyRow{}, err
		}
		r.GFLOPsPerFrame, r.MsPerFrame, r.CacheMB, r.PeakHeapMB = flops[i]/1e9, evaluate.Median(ms[i]), cache[i], peak[i]
		r.Videos = scores[i]
		for _, ref := range refs {
			if ref == i {
				continue
			}
			c, err := compare(methods[ref].Name, scores[i], scores[ref], reps)
			if err != nil {
				return nil, nil, StudyRow{}, fmt.Errorf("%s against %s: %w", me.Name, methods[ref].Name, err)
			}
			r.Against = append(r.Against, c)
		}
		rows = append(rows, r)
	}
	for i := range rows {
		rows[i].Saved = rows[0].GFLOPsPerFrame / rows[i].GFLOPsPerFrame
		rows[i].Speedup = rows[0].MsPerFrame / rows[i].MsPerFrame
	}
	tr, err := summarise("true edit", truth)
	return rows, first, tr, err
}

// WriteStudyTable writes the rows, and the true edits' row, as Markdown.
func WriteStudyTable(w io.Writer, rows []StudyRow, truth StudyRow) {
	iv := func(x metrics.Interval, f string) string {
		return fmt.Sprintf(f+" ["+f+", "+f+"]", x.Value, x.Lo, x.Hi)
	}
	fmt.Fprintf(w, "| method | GFLOPs/frame | FLOPs saved | wall-time speed-up | anchor cache (MB) | peak heap (MB) | Frame-Acc | preservation | PSNR (dB) | warp error | Tem-Con |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %.3f | %.2f× | %.2f× | %.2f | %.0f | %s | %s | %s | %s | %s |\n", r.Name, r.GFLOPsPerFrame, r.Saved, r.Speedup, r.CacheMB, r.PeakHeapMB,
			iv(r.FrameAcc, "%.3f"), iv(r.Preserved, "%.3f"), iv(r.PSNR, "%.2f"), iv(r.Warp, "%.4f"), iv(r.TemCon, "%.4f"))
	}
	fmt.Fprintf(w, "| %s | — | — | — | — | — | %s | %s | — | %s | %s |\n", truth.Name, iv(truth.FrameAcc, "%.3f"), iv(truth.Preserved, "%.3f"), iv(truth.Warp, "%.4f"), iv(truth.TemCon, "%.4f"))
}

// WriteComparisons writes each row's comparisons with the references
// (StudyRow.Against) as Markdown: a table per reference, in the order of
// the references' rows; nothing when no row has any.
func WriteComparisons(w io.Writer, rows []StudyRow) {
	var refs []string
	for _, r := range rows {
		for _, c := range r.Against {
			if !slices.Contains(refs, c.Reference) {
				refs = append(refs, c.Reference)
			}
		}
	}
	// The references in the order of their rows.
	at := func(name string) int {
		return slices.IndexFunc(rows, func(r StudyRow) bool { return r.Name == name })
	}
	slices.SortStableFunc(refs, func(a, b string) int { return at(a) - at(b) })
	iv := func(x metrics.Interval, f string) string {
		return fmt.Sprintf(f+" ["+f+", "+f+"]", x.Value, x.Lo, x.Hi)
	}
	for _, ref := range refs {
		fmt.Fprintf(w, "\nAgainst %s, paired over the videos (warp error: its mean over the method's, above 1 more consistent; Frame-Acc and PSNR: the method's minus its):\n\n", ref)
		fmt.Fprintf(w, "| method | warp error, times lower | Frame-Acc difference | PSNR difference (dB) |\n|---|---|---|---|\n")
		for _, r := range rows {
			for _, c := range r.Against {
				if c.Reference == ref {
					fmt.Fprintf(w, "| %s | %s× | %s | %s |\n", r.Name, iv(c.WarpFold, "%.2f"), iv(c.FrameAcc, "%+.3f"), iv(c.PSNR, "%+.2f"))
				}
			}
		}
	}
}

// StudyPlot draws the warp error (with intervals) against GFLOPs per
// frame, the Pareto-optimal methods joined.
func StudyPlot(rows []StudyRow) (*plot.Plot, error) {
	var pts []plots.Point
	for i, r := range rows {
		pts = append(pts, plots.Point{Label: r.Name, X: r.GFLOPsPerFrame, Y: r.Warp.Value, YLo: r.Warp.Lo, YHi: r.Warp.Hi, Highlight: i == 0})
	}
	return plots.Pareto("Temporal consistency against cost", "GFLOPs per frame", "warp error (known motion)", pts, "methods", "frame by frame")
}
