// Package video is the video command, run as `clockwork video` (cmd/clockwork)
// or `go run ./experiments/video`; the command's documentation is in
// experiments/video.
package video

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/plots"
	"github.com/clockwork-go/clockwork/videos"
)

// DefaultModel is the editor the video study was built on, the 14,000-step
// editor of models/mnist_edit (its equivariant fine-tune, models/mnist_edit_eq,
// is made from it); edit's default is that editor's low-noise fine-tune.
const DefaultModel = "models/mnist_edit"

// Run runs the video command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status.
func Run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	cli.ExitOnSignal() // the work does not stop at a safe point: a signal ends it
	c := cli.New("video", "edit a video frame by frame with an instruction-guided editor; without -input, a held-out toy video with known motion, measured against its true edit",
		[]string{"video", `video -input clip.gif -instruction "make it thicker" -output runs/video/out.npz`, "video -shared-noise"}, stdout, stderr)
	fs := c.Flags
	o := edits.DefaultOptions()
	model := fs.String("model", DefaultModel, "editor model directory")
	input := fs.String("input", "", "the video: an .npz whose frames are (T, C, H, W) in [−1, 1], or an animated GIF (default: held-out toy video -index, with its instruction)")
	index := fs.Int("index", 0, "without -input: which held-out toy video")
	frames := fs.Int("frames", 16, "without -input: the toy video's length")
	instruction := fs.String("instruction", "", "the edit (default, for a toy video: its own)")
	output := fs.String("output", "runs/video/edited.npz", "output .npz (frames); a GIF (source | edit [| true edit]) and a frame strip PNG are written beside it")
	shared := fs.Bool("shared-noise", false, "every frame from the same noise (default: frame t from noise stream t), frame by frame or with -anchors")
	anchors := fs.Int("anchors", 0, "FAIRY's anchor attention with this many anchor frames (0: frame by frame)")
	choice := fs.String("anchor-choice", videos.AnchorsUniform, "anchor frames: uniform (spread over the video) or middle")
	study := fs.String("study", "", "the video study: edit -n held-out toy videos frame by frame and with -anchor-counts anchors (each from per-frame and from shared noise), and with the -equivariant-model and the -student stack, and write the table, JSON, figure and GIF into this directory")
	nVideos := fs.Int("n", 8, "with -study: held-out videos")
	counts := fs.String("anchor-counts", "1,3,7", "with -study: the anchor counts (uniform anchors)")
	equiModel := fs.String("equivariant-model", "", "with -study: an equivariantly fine-tuned editor, run with 3 anchors from per-frame and from shared noise")
	student := fs.String("student", "", "with -study: a guidance-distilled student of -model, run at -student-steps with one middle anchor (MoViE's stack)")
	studentSteps := fs.Int("student-steps", 8, "with -study: the student's steps")
	studentAdaptor := fs.String("student-adaptor", "", "with -study: a Clockwork adaptor of -student (identity or a directory), added to the student's row")
	shard := fs.String("shard", "", "with -anchors: i/n edits the anchors and the i-th of n parts of the other frames (1-based); the output holds those frames and their indices (frame_index)")
	fs.StringVar(&o.Sampler, "sampler", o.Sampler, "sampler")
	fs.IntVar(&o.Steps, "steps", o.Steps, "sampling steps")
	fs.Float64Var(&o.TextScale, "text-scale", o.TextScale, "guidance scale of the instruction, s_T")
	fs.Float64Var(&o.ImageScale, "image-scale", o.ImageScale, "guidance scale of the source frame, s_I")
	fs.Uint64Var(&o.Seed, "seed", 0, "noise seed")
	fs.IntVar(&o.Batch, "batch", 16, "frames per batch")
	fs.Float64Var(&o.Strength, "strength", 0, "start each frame's edit from the frame noised part-way, running the last int(steps·strength) of the steps (SDEdit; diffusers' image-to-image strength); 0 or 1: from pure noise")
	if code, ok := c.Parse(args, false); !ok {
		return code
	}
	o.SharedNoise = *shared
	if err := o.Check(); err != nil {
		return c.Usage("%v", err)
	}
	if *anchors < 0 {
		return c.Usage("-anchors %d: want 0 (frame by frame) or more", *anchors)
	}
	var si, sn int
	if *shard != "" {
		if _, err := fmt.Sscanf(*shard, "%d/%d", &si, &sn); err != nil || sn < 1 || si < 1 || si > sn || *anchors == 0 {
			return c.Usage("-shard %q: want i/n with 1 ≤ i ≤ n, with -anchors", *shard)
		}
	}
	// Each mode refuses the flags that would do nothing in it.
	editing := []string{"model", "sampler", "steps", "text-scale", "image-scale", "seed", "batch", "strength"}
	if *study != "" {
		if code, ok := c.Only("-study", append(editing, "study", "frames", "n", "anchor-counts", "equivariant-model", "student", "student-steps", "student-adaptor")...); !ok {
			return code
		}
		if *nVideos <= 0 {
			return c.Usage("-n %d: want a positive number of videos", *nVideos)
		}
		var ks []int
		for _, f := range strings.Split(*counts, ",") {
			var k int
			if _, err := fmt.Sscanf(strings.TrimSpace(f), "%d", &k); err != nil || k < 1 {
				return c.Usage("-anchor-counts %q: want positive counts", *counts)
			}
			ks = append(ks, k)
		}
		return runStudy(c, studyConfig{given: [3]bool{c.Given("text-scale"), c.Given("image-scale"), c.Given("steps")}, model: *model, equi: *equiModel, student: *student, studentAdaptor: *studentAdaptor, studentSteps: *studentSteps,
			o: o, counts: ks, n: *nVideos, frames: *frames, dir: *study})
	}
	mode, own := "an edit of a held-out toy video", []string{"index", "frames", "instruction"}
	if *input != "" {
		mode, own = "an edit of -input", []string{"input", "instruction"}
	}
	own = append(own, "output", "shared-noise", "anchors")
	if *anchors > 0 {
		own = append(own, "anchor-choice", "shard")
	}
	if code, ok := c.Only(mode, append(editing, own...)...); !ok {
		return code
	}
	if filepath.Ext(*output) != ".npz" {
		return c.Usage("-output %s: want an .npz file", *output)
	}
	base := strings.TrimSuffix(*output, ".npz")
	if err := cli.CheckOutFiles("-output", *output, "-output's GIF", base+".gif", "-output's strip", base+".png"); err != nil {
		return c.Fail(err)
	}
	if _, err := os.Stat(*model); err != nil && *model == DefaultModel {
		return c.Fail(fmt.Errorf("-model: no editor is shipped in %s yet; train one (docs/editing.md) and give -model DIR", DefaultModel))
	}
	e, err := edits.LoadEditor(*model)
	if err != nil {
		return c.Fail(err)
	}
	e.Defaults.Apply(&o, !c.Given("text-scale"), !c.Given("image-scale"), !c.Given("steps"))
	var (
		src   []float32
		t     int
		shape []int
		toy   *videos.Video
	)
	if *input == "" {
		if *index < 0 {
			return c.Usage("-index %d: want a video's index ≥ 0", *index)
		}
		mn, err := datasets.MNIST("test", "", false)
		if err != nil {
			return c.Fail(err)
		}
		set, err := videos.Generate(mn, *index+1, *frames, videos.TestSeed, edits.TestMix)
		if err != nil {
			return c.Fail(err)
		}
		toy = &set.Videos[*index]
		src, t, shape = videos.FloatFrames(toy.Source), toy.Frames(), []int{1, captions.Side, captions.Side}
		if *instruction == "" {
			*instruction = toy.Phrase
		}
	} else {
		if src, t, shape, err = videos.ReadFrames(*input); err != nil {
			return c.Fail(fmt.Errorf("-input: %w", err))
		}
		if *instruction == "" {
			return c.Usage("-input needs -instruction")
		}
	}
	if shape[0] != e.Shape[0] || shape[1] != e.Shape[1] || shape[2] != e.Shape[2] {
		return c.Fail(fmt.Errorf("-input: frames of %d×%d×%d; -model %s edits %d×%d×%d", shape[0], shape[1], shape[2], *model, e.Shape[0], e.Shape[1], e.Shape[2]))
	}
	if err := e.CheckImages("-input", src, t); err != nil {
		return c.Fail(err)
	}
	if _, err := e.Text.IDs([]string{*instruction}); err != nil {
		return c.Fail(fmt.Errorf("-instruction: %w", err))
	}
	var anc []int
	if *anchors > 0 {
		if anc, err = videos.ChooseAnchors(t, *anchors, *choice); err != nil {
			return c.Fail(fmt.Errorf("-anchors: %w", err))
		}
	}
	var only []int // a shard's frames besides the anchors
	if sn > 0 {
		var rest []int
		for f := range t {
			if !slices.Contains(anc, f) {
				rest = append(rest, f)
			}
		}
		lo, hi := (si-1)*len(rest)/sn, si*len(rest)/sn
		only = append([]int{}, rest[lo:hi]...)
	}
	start := time.Now()
	var out []float32
	cache := int64(0)
	if anc == nil {
		prog := cli.NewProgress(c.Stderr, t, "video")
		out, err = e.Edit(src, t, []string{*instruction}, o, func(done int) { prog.Set(done, "") })
		prog.Finish()
	} else {
		var r *videos.AnchoredResult
		if r, err = videos.EditAnchored(e, src, t, *instruction, o, anc, o.Batch, only); err == nil {
			out, cache = r.Frames, r.CacheBytes
		}
	}
	if err != nil {
		return c.Fail(err)
	}
	el := time.Since(start)
	if sn > 0 {
		// A shard writes its frames and their indices.
		idx := append(append([]int{}, anc...), only...)
		slices.Sort(idx)
		per := shape[0] * shape[1] * shape[2]
		var fr []float32
		var ix []int64
		for _, f := range idx {
			fr = append(fr, out[f*per:(f+1)*per]...)
			ix = append(ix, int64(f))
		}
		if err := os.MkdirAll(filepath.Dir(*output), 0o755); err != nil {
			return c.Fail(err)
		}
		if err := npzio.Write(*output, []string{"frames", "frame_index"}, map[string]npzio.Array{"frames": npzio.Float32(fr, append([]int{len(idx)}, shape...)...), "frame_index": npzio.Int64(ix, len(ix))}); err != nil {
			return c.Fail(err)
		}
		c.Printf("shard %d/%d: frames %v (anchors %v) edited in %s; anchor cache %.1f MB; wrote %s\n", si, sn, idx, anc, el.Round(time.Millisecond), float64(cache)/1e6, *output)
		return 0
	}
	if err := os.MkdirAll(filepath.Dir(*output), 0o755); err != nil {
		return c.Fail(err)
	}
	if err := npzio.Write(*output, []string{"frames"}, map[string]npzio.Array{"frames": npzio.Float32(out, append([]int{t}, shape...)...)}); err != nil {
		return c.Fail(err)
	}
	rows := [][]float32{src, out}
	if toy != nil {
		rows = append(rows, videos.FloatFrames(toy.Target))
	}
	if shape[0] == 1 {
		if err := videos.WriteGIF(base+".gif", rows, t, shape[1], shape[2], 4, 12); err != nil {
			return c.Fail(err)
		}
	}
	var strip []float32
	for _, r := range rows {
		strip = append(strip, r...)
	}
	if err := plots.SaveGridPNG(base+".png", strip, len(rows)*t, shape[0], shape[1], shape[2], t, 2); err != nil {
		return c.Fail(err)
	}
	noise := map[bool]string{false: "per-frame noise", true: "shared noise"}[o.SharedNoise]
	how := "frame by frame, " + noise
	if anc != nil {
		how = fmt.Sprintf("anchor attention, anchors %v, cache %.1f MB, %s", anc, float64(cache)/1e6, noise)
	}
	if k, _ := diffusion.StepsFrom(o.Steps, o.Strength); k != o.Steps {
		how += fmt.Sprintf(", from the frames at strength %g (the last %d of the %d steps)", o.Strength, k, o.Steps)
	}
	c.Printf("%d frames edited (%q; %s, %d steps, s_T %g, s_I %g; %s) in %s\n", t, *instruction, o.Sampler, o.Steps, o.TextScale, o.ImageScale, how, el.Round(time.Millisecond))
	if toy != nil {
		m, err := captions.DefaultMeasurer()
		if err != nil {
			return c.Fail(err)
		}
		clf, err := metrics.MNISTClassifier()
		if err != nil {
			return c.Fail(err)
		}
		got, err := videos.Measure(m, clf, toy, out)
		if err != nil {
			return c.Fail(err)
		}
		truth, err := videos.Measure(m, clf, toy, videos.FloatFrames(toy.Target))
		if err != nil {
			return c.Fail(err)
		}
		c.Printf("held-out toy video %d (%s, %q): Frame-Acc %.3f (true edit %.3f), PSNR to the true edit %.2f dB, warp error %.5f (true edit %.5f), Tem-Con %.4f (true edit %.4f)\n",
			*index, toy.Before, toy.Phrase, got.FrameAcc, truth.FrameAcc, got.PSNR, got.Warp, truth.Warp, got.TemCon, truth.TemCon)
	}
	written := []string{*output}
	if shape[0] == 1 {
		written = append(written, base+".gif")
	}
	written = append(written, base+".png")
	c.Printf("wrote %s (source | edit%s)\n", strings.Join(written, ", "), map[bool]string{false: "", true: " | true edit"}[toy != nil])
	return 0
}

type studyConfig struct {
	given                                [3]bool
	model, equi, student, studentAdaptor string
	studentSteps                         int
	o                                    edits.Options
	counts                               []int
	n, frames                            int
	dir                                  string
}

// runStudy runs -study.
func runStudy(c *cli.Command, sc studyConfig) int {
	if _, err := os.Stat(sc.model); err != nil && sc.model == DefaultModel {
		return c.Fail(fmt.Errorf("-model: no editor is shipped in %s yet; train one (docs/editing.md) and give -model DIR", DefaultModel))
	}
	e, err := edits.LoadThreePass(sc.model)
	if err != nil {
		return c.Fail(err)
	}
	o := sc.o
	e.Defaults.Apply(&o, !sc.given[0], !sc.given[1], !sc.given[2])
	batch := o.Batch
	methods := []videos.StudyMethod{{Name: "frame by frame, per-frame noise", Editing: videos.Editing{Editor: e, Options: o, Batch: batch}}}
	shared := o
	shared.SharedNoise = true
	methods = append(methods, videos.StudyMethod{Name: "frame by frame, shared noise", Editing: videos.Editing{Editor: e, Options: shared, Batch: batch}})
	// Anchor attention from per-frame noise, then from shared noise: the
	// second isolates what the anchors add to shared noise.
	for _, oo := range []edits.Options{o, shared} {
		for _, k := range sc.counts {
			name := fmt.Sprintf("%d anchors", k)
			if k == 1 {
				name = "1 anchor"
			}
			if oo.SharedNoise {
				name += ", shared noise"
			}
			methods = append(methods, videos.StudyMethod{Name: name, Editing: videos.Editing{Editor: e, Options: oo, Batch: batch}, Count: k, Choice: videos.AnchorsUniform})
		}
	}
	if sc.equi != "" {
		eq, err := edits.LoadThreePass(sc.equi)
		if err != nil {
			return c.Fail(err)
		}
		methods = append(methods, videos.StudyMethod{Name: "equivariant, 3 anchors", Editing: videos.Editing{Editor: eq, Options: o, Batch: batch}, Count: 3, Choice: videos.AnchorsUniform},
			videos.StudyMethod{Name: "equivariant, 3 anchors, shared noise", Editing: videos.Editing{Editor: eq, Options: shared, Batch: batch}, Count: 3, Choice: videos.AnchorsUniform})
	}
	if sc.student != "" {
		st, err := edits.LoadStudent(sc.student)
		if err != nil {
			return c.Fail(err)
		}
		so := o
		so.Steps = sc.studentSteps
		methods = append(methods, videos.StudyMethod{Name: fmt.Sprintf("guidance-distilled, %d steps, 1 middle anchor", so.Steps), Editing: videos.Editing{Editor: st, Options: so, Batch: batch}, Count: 1, Choice: videos.AnchorsMiddle})
		if sc.studentAdaptor != "" {
			methods = append(methods, videos.StudyMethod{Name: fmt.Sprintf("guidance-distilled + Clockwork, %d steps, 1 middle anchor", so.Steps),
				Editing: videos.Editing{Editor: st, Options: so, Batch: batch, Adaptor: sc.studentAdaptor}, Count: 1, Choice: videos.AnchorsMiddle})
		}
	} else if sc.studentAdaptor != "" {
		return c.Usage("-student-adaptor goes with -student")
	}
	mn, err := datasets.MNIST("test", "", false)
	if err != nil {
		return c.Fail(err)
	}
	set, err := videos.Generate(mn, sc.n, sc.frames, videos.TestSeed, edits.TestMix)
	if err != nil {
		return c.Fail(err)
	}
	m, err := captions.DefaultMeasurer()
	if err != nil {
		return c.Fail(err)
	}
	clf, err := metrics.MNISTClassifier()
	if err != nil {
		return c.Fail(err)
	}
	if err := os.MkdirAll(sc.dir, 0o755); err != nil {
		return c.Fail(err)
	}
	prog := cli.NewProgress(c.Stderr, sc.n*len(methods), "video study")
	start := time.Now()
	rows, first, truth, err := videos.Study(methods, []int{0, 1}, m, clf, set, 1000, func(done, _ int) { prog.Set(done, "") })
	prog.Finish()
	if err != nil {
		return c.Fail(err)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "%d held-out toy videos of %d frames, %s %d steps (the student: its own), s_T %g, s_I %g, seed %d; intervals over videos:\n\n", sc.n, sc.frames, o.Sampler, o.Steps, o.TextScale, o.ImageScale, o.Seed)
	videos.WriteStudyTable(&md, rows, truth)
	videos.WriteComparisons(&md, rows)
	if err := fsutil.WriteAtomic(filepath.Join(sc.dir, "study.md"), func(w io.Writer) error { _, err := io.WriteString(w, md.String()); return err }); err != nil {
		return c.Fail(err)
	}
	if err := c.WriteStamped(filepath.Join(sc.dir, "study.json"), map[string]any{"model": sc.model, "videos": sc.n, "frames": sc.frames, "options": o, "rows": rows, "true_edit": truth}); err != nil {
		return c.Fail(err)
	}
	p, err := videos.StudyPlot(rows)
	if err != nil {
		return c.Fail(err)
	}
	if _, err := plots.SaveBoth(sc.dir, "study_pareto", func(path string) error { return plots.Save(p, path, 6*vg.Inch, 4.5*vg.Inch) }); err != nil {
		return c.Fail(err)
	}
	v := set.Videos[0]
	gif := append([][]float32{videos.FloatFrames(v.Source), videos.FloatFrames(v.Target)}, first...)
	if err := videos.WriteGIF(filepath.Join(sc.dir, "video0.gif"), gif, v.Frames(), captions.Side, captions.Side, 3, 12); err != nil {
		return c.Fail(err)
	}
	names := []string{"source", "true edit"}
	for _, r := range rows {
		names = append(names, r.Name)
	}
	c.Printf("%s", md.String())
	c.Printf("video study of %d methods on %d videos in %s; wrote %s (video0.gif: %s, left to right)\n", len(methods), sc.n, time.Since(start).Round(time.Second), sc.dir, strings.Join(names, " | "))
	return 0
}
