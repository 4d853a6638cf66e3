// Package segment is the segment command, run as `clockwork segment`
// (cmd/clockwork) or `go run ./experiments/segment`; the command's
// documentation is in experiments/segment.
package segment

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/plots"
	"github.com/clockwork-go/clockwork/scenes"
	"github.com/clockwork-go/clockwork/segment"
	"github.com/clockwork-go/clockwork/train"
)

// DefaultModel is the shipped segmentation model (models.SegmenterPath).
const DefaultModel = models.SegmenterPath

// Run runs the segment command with the arguments after its name, writing
// to stdout and stderr, and returns its exit status; ctx's cancellation
// (Ctrl-C) interrupts training with a checkpoint written.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("segment", "train, evaluate or run a segmentation U-Net (Ronneberger et al. 2015; attention and residual variants) on digit scenes with exact masks",
		[]string{"segment -out runs/seg                          # train the default U-Net, then evaluate it on held-out scenes",
			"segment -out runs/seg -resume                  # continue after Ctrl-C",
			"segment -eval -model models/segment -n 500     # evaluate a model",
			"segment -predict -input in.npz -output out.npz # segment images of any size (overlap-tile)",
			"segment -scenes 8 -size 128 -output scenes.npz # write held-out scenes (images, masks, instances)",
			"segment -study runs/seg-study -steps 3000      # the three variants and the weight map, same data and steps"}, stdout, stderr)
	fs := c.Flags
	cfg := segment.DefaultConfig()
	opts := segment.DefaultTrainOptions()
	out := fs.String("out", "runs/segment", "run directory (training)")
	resume := fs.Bool("resume", false, "continue the run in -out from its latest checkpoint")
	configFile := fs.String("config", "", "a config.json (default: the flags below)")
	fs.StringVar(&cfg.Variant, "variant", cfg.Variant, "unet, attention or residual")
	fs.IntVar(&cfg.Depth, "depth", cfg.Depth, "poolings")
	fs.IntVar(&cfg.Width, "width", cfg.Width, "first level's channels")
	fs.StringVar(&cfg.Padding, "padding", cfg.Padding, "valid (the paper's) or same")
	fs.BoolVar(&cfg.BatchNorm, "batch-norm", cfg.BatchNorm, "batch normalisation after every 3×3 convolution")
	fs.IntVar(&opts.Steps, "steps", opts.Steps, "training steps")
	fs.IntVar(&opts.Batch, "batch", opts.Batch, "scenes per step")
	fs.Float64Var(&opts.LR.Peak, "lr", opts.LR.Peak, "peak learning rate (Adam; warm-up, then cosine decay)")
	fs.IntVar(&opts.LR.Warmup, "warmup", opts.LR.Warmup, "warm-up steps")
	fs.BoolVar(&opts.WeightMap, "weight-map", opts.WeightMap, "weight the loss by the paper's Eq. 2 map")
	fs.Float64Var(&opts.W0, "w0", opts.W0, "weight map: w0")
	fs.Float64Var(&opts.Sigma, "sigma", opts.Sigma, "weight map: σ in pixels")
	fs.Float64Var(&opts.Dice, "dice", opts.Dice, "add this multiple of the soft Dice loss")
	seed := fs.Uint64("seed", 0, "initialisation seed")
	every := fs.Int("checkpoint-every", 250, "steps between checkpoints")
	quiet := fs.Bool("quiet", false, "no progress display")
	evalMode := fs.Bool("eval", false, "evaluate -model on -n held-out scenes")
	model := fs.String("model", DefaultModel, "with -eval or -predict: a model directory")
	n := fs.Int("n", 500, "held-out scenes to evaluate on (after training, with -eval and -study)")
	report := fs.String("report", "", "with -eval: also write the evaluation as JSON to this file")
	predict := fs.Bool("predict", false, "segment -input's images with -model")
	input := fs.String("input", "", "with -predict: an .npz whose images are (N, C, H, W) in [−1, 1], any H and W (and, optionally, masks (N, H, W) to measure against)")
	output := fs.String("output", "", "with -predict: the .npz of masks (N, H, W) class ids, a PNG overlay beside it (default runs/segment/predicted.npz); with -scenes: the scenes' .npz (default runs/segment/scenes.npz)")
	tile := fs.Int("tile", 0, "with -predict: the network input's side for each tile of the overlap-tile strategy, as the paper's 572 (0: one piece); a size that does not fit is an error naming the sizes that do")
	nScenes := fs.Int("scenes", 0, "write this many held-out scenes to -output")
	size := fs.Int("size", 64, "with -scenes: the canvas side")
	bench := fs.Int("bench", 0, "time this many training steps of the configured network (after 3 warm-up steps) and print the median seconds per step, for scripts/bench/segment_compare.sh")
	study := fs.String("study", "", "train the unet, attention and residual variants with the weight map and the unet without it, same seed, data and steps, into this directory, and compare them")
	if code, ok := c.Parse(args, false); !ok {
		return code
	}
	modes := 0
	for _, m := range []bool{*evalMode, *predict, *nScenes > 0, *study != "", *bench > 0} {
		if m {
			modes++
		}
	}
	if modes > 1 {
		return c.Usage("-eval, -predict, -scenes, -study and -bench are separate modes: give one")
	}
	if *n <= 0 {
		return c.Usage("-n %d: want a positive number of scenes", *n)
	}
	switch {
	case *nScenes > 0:
		return writeScenes(c, *nScenes, *size, cmp.Or(*output, "runs/segment/scenes.npz"))
	case *evalMode:
		m, err := load(*model)
		if err != nil {
			return c.Fail(err)
		}
		r, err := evaluate(c, m, *n, filepath.Base(*model))
		if err != nil {
			return c.Fail(err)
		}
		if *report != "" {
			if err := c.WriteStamped(*report, r); err != nil {
				return c.Fail(err)
			}
			c.Printf("wrote %s\n", *report)
		}
		return 0
	case *predict:
		return runPredict(c, *model, *input, cmp.Or(*output, "runs/segment/predicted.npz"), *tile)
	}
	if *configFile != "" {
		var err error
		if cfg, err = segment.ReadConfig(*configFile); err != nil {
			return c.Fail(err)
		}
	}
	opts.LR.Steps = opts.Steps
	if err := cfg.Validate(); err != nil {
		return c.Usage("%v", err)
	}
	if err := opts.Validate(); err != nil {
		return c.Usage("%v", err)
	}
	if *every <= 0 {
		return c.Usage("-checkpoint-every %d must be positive", *every)
	}
	if *bench > 0 {
		return runBench(c, cfg, opts, *seed, *bench)
	}
	r := runner{c: c, every: *every, quiet: *quiet, seed: *seed, n: *n}
	if *study != "" {
		return r.study(ctx, *study, cfg, opts)
	}
	if _, err := r.train(ctx, *out, cfg, opts, *resume); err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			return c.Interrupted("checkpoint written. Continue with: segment -out %s -resume", *out)
		}
		return c.Fail(err)
	}
	return 0
}

// load reads a model directory: the shipped one (its embedded copy where
// the working directory has no models/segment) for the default.
func load(dir string) (*segment.Model, error) {
	if filepath.ToSlash(filepath.Clean(dir)) == DefaultModel {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			d, err := models.Segmenter()
			if err != nil {
				return nil, err
			}
			dir = d
		}
	}
	return segment.Load(dir)
}

// runner trains and evaluates runs.
type runner struct {
	c     *cli.Command
	every int
	quiet bool
	seed  uint64
	n     int
}

// result is a run's outcome, its run directory's eval.json.
type result struct {
	Name    string               `json:"name"`
	Config  segment.Config       `json:"config"`
	Options segment.TrainOptions `json:"options"`
	Steps   int                  `json:"steps"`
	// Seconds is the training time, summed over the run's invocations
	// from its metrics.
	Seconds float64        `json:"train_seconds"`
	Report  segment.Report `json:"report"`
	masks   []uint8        // the held-out scenes' predicted masks
	curve   [2][]float64   // steps, losses
}

// train trains (or resumes, or, when complete, reloads) a run in dir, then
// evaluates its model.
func (r runner) train(ctx context.Context, dir string, cfg segment.Config, opts segment.TrainOptions, resume bool) (*result, error) {
	c := r.c
	if err := fsutil.CheckOutDir("-out", dir); err != nil {
		return nil, err
	}
	has, err := train.HasCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	if has && !resume {
		return nil, fmt.Errorf("%s holds a run already: give -resume to continue it, or another -out", dir)
	}
	if !has && resume {
		return nil, fmt.Errorf("%s holds no checkpoint to resume", dir)
	}
	release, abandon, err := cli.Claim(dir, "segment")
	if err != nil {
		return nil, err
	}
	defer release()
	m, err := segment.New(cfg, r.seed)
	if err != nil {
		abandon()
		return nil, err
	}
	stream, err := scenes.OpenStream("train")
	if err != nil {
		abandon()
		return nil, err
	}
	tr, err := segment.NewTrainer(m, stream, opts)
	if err != nil {
		abandon()
		return nil, err
	}
	done := 0
	ck := tr.Checkpoint(func() int { return done }, func(s int) { done = s })
	if has {
		latest, err := train.Latest(dir)
		if err != nil {
			return nil, err
		}
		if err := ck.Load(latest); err != nil {
			return nil, train.Damaged(dir, latest, err, ck.Names(), nil)
		}
	}
	if done < opts.Steps {
		in, out := tr.Sizes()
		verb := "training"
		if done > 0 {
			verb = fmt.Sprintf("resuming at step %d:", done)
		}
		c.Printf("%s %s (%s padding, depth %d, width %d, batch norm %v; %d parameters; %d-pixel inputs, %d-pixel outputs) for %d steps of %d scenes into %s\n",
			verb, cfg.Variant, cfg.Padding, cfg.Depth, cfg.Width, cfg.BatchNorm, m.Params.Count(), in, out, opts.Steps, opts.Batch, dir)
	}
	defer c.Provenance(dir)()
	var prog *cli.Progress
	if !r.quiet {
		prog = cli.NewProgress(c.Stderr, opts.Steps, filepath.Base(dir)).From(done)
	}
	loop := &train.Loop{
		Dir: dir, Steps: opts.Steps, Done: done,
		Step:       tr.Step,
		Checkpoint: ck, CheckpointEvery: r.every,
		LogEvery: 10,
		Log: func(step int, rate float64) any {
			return map[string]any{"step": step, "loss": tr.Loss, "lr": opts.LR.At(step - 1), "steps_per_s": rate}
		},
		Status: func() string { return fmt.Sprintf("loss %.4f", tr.Loss) },
	}
	if prog != nil {
		loop.Progress = func(p train.Progress) { prog.Set(p.Done, p.Status) }
	}
	// The loop's Done and the checkpoint's step move together.
	step := loop.Step
	loop.Step = func(s int) error { err := step(s); done = s + 1; return err }
	err = loop.Run(ctx)
	prog.Finish()
	if err != nil {
		return nil, err
	}
	res := &result{Name: filepath.Base(dir), Config: cfg, Options: opts, Steps: done}
	if err := m.Save(filepath.Join(dir, "model")); err != nil {
		return nil, err
	}
	if res.curve, res.Seconds, err = readCurve(filepath.Join(dir, train.MetricsFile)); err != nil {
		return nil, err
	}
	rep, err := evaluate(c, m, r.n, res.Name)
	if err != nil {
		return nil, err
	}
	res.Report = rep.Report
	res.masks = rep.masks
	if err := fsutil.WriteJSON(filepath.Join(dir, "eval.json"), res); err != nil {
		return nil, err
	}
	if len(res.curve[0]) > 1 {
		p, err := plots.TrainingCurve("training loss: "+res.Name, res.curve[0], res.curve[1], 0.9)
		if err == nil {
			_, err = plots.SaveBoth(dir, "loss", func(path string) error { return plots.Save(p, path, plots.ColumnWidth, plots.FigHeight) })
		}
		if err != nil {
			return nil, err
		}
	}
	c.Printf("model of step %d in %s\n", done, filepath.Join(dir, "model"))
	return res, nil
}

// readCurve reads the steps and losses of a metrics.jsonl, and the
// training time its rates add up to.
func readCurve(path string) (curve [2][]float64, seconds float64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return curve, 0, err
	}
	last := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m struct {
			Step int     `json:"step"`
			Loss float64 `json:"loss"`
			Rate float64 `json:"steps_per_s"`
		}
		if line == "" || json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		curve[0] = append(curve[0], float64(m.Step))
		curve[1] = append(curve[1], m.Loss)
		if m.Rate > 0 && m.Step > last {
			seconds += float64(m.Step-last) / m.Rate
		}
		last = m.Step
	}
	return curve, seconds, nil
}

// evalResult is an evaluation with its masks.
type evalResult struct {
	segment.Report
	Model string `json:"model"`
	masks []uint8
}

// evaluate segments n held-out scenes with m and prints the report.
func evaluate(c *cli.Command, m *segment.Model, n int, name string) (*evalResult, error) {
	set, err := scenes.Open("test", n)
	if err != nil {
		return nil, err
	}
	masks, err := segmentScenes(m, set)
	if err != nil {
		return nil, err
	}
	rep, err := segment.Evaluate(set, masks, 200, 0)
	if err != nil {
		return nil, err
	}
	c.Printf("%s on %d held-out scenes:\n", name, n)
	rep.WriteTable(c.Stdout)
	return &evalResult{Report: rep, Model: name, masks: masks}, nil
}

// segmentScenes predicts the masks of a set's scenes in batches.
func segmentScenes(m *segment.Model, set *scenes.Set) ([]uint8, error) {
	p := segment.NewPredictor(m)
	size := set.Config.Size
	px := size * size
	const batch = 25
	masks := make([]uint8, 0, set.Len()*px)
	for lo := 0; lo < set.Len(); lo += batch {
		hi := min(lo+batch, set.Len())
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		x := make([]float32, len(idx)*px)
		set.Batch(idx, x, nil)
		z, err := p.Predict(x, len(idx), size, size, 0)
		if err != nil {
			return nil, err
		}
		masks = append(masks, segment.Argmax(z, len(idx), m.Config.Classes, px)...)
	}
	return masks, nil
}

// writeScenes writes n held-out scenes of a size×size canvas.
func writeScenes(c *cli.Command, n, size int, output string) int {
	if filepath.Ext(output) != ".npz" {
		return c.Usage("-output %s: want an .npz file", output)
	}
	if err := fsutil.CheckOutFile("-output", output); err != nil {
		return c.Fail(err)
	}
	cfg := scenes.DefaultConfig()
	cfg.Size = size
	// Larger canvases hold proportionally more digits.
	scale := float64(size*size) / float64(64*64)
	cfg.MinDigits = max(1, int(math.Round(float64(cfg.MinDigits)*scale)))
	cfg.MaxDigits = max(cfg.MinDigits, int(math.Round(float64(cfg.MaxDigits)*scale)))
	src, err := datasets.MNIST("test", "", false)
	if err != nil {
		return c.Fail(err)
	}
	set, err := scenes.Generate(src, n, cfg, scenes.TestSeed)
	if err != nil {
		return c.Fail(fmt.Errorf("-scenes: %w", err))
	}
	px := size * size
	x := make([]float32, n*px)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	set.Batch(idx, x, nil)
	masks, inst := make([]int64, n*px), make([]int64, n*px)
	for j := range masks {
		masks[j], inst[j] = int64(set.Semantic[j]), int64(set.Instance[j])
	}
	if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
		return c.Fail(err)
	}
	if err := npzio.Write(output, []string{"images", "masks", "instances"}, map[string]npzio.Array{
		"images":    npzio.Float32(x, n, 1, size, size),
		"masks":     npzio.Int64(masks, n, size, size),
		"instances": npzio.Int64(inst, n, size, size),
	}); err != nil {
		return c.Fail(err)
	}
	c.Printf("wrote %d held-out %d×%d scenes (%d–%d digits) to %s\n", n, size, size, cfg.MinDigits, cfg.MaxDigits, output)
	return 0
}

// runBench times training steps: each step draws its scenes, computes
// their weight maps, runs the network forward and backward and updates
// the parameters with Adam.
func runBench(c *cli.Command, cfg segment.Config, opts segment.TrainOptions, seed uint64, steps int) int {
	m, err := segment.New(cfg, seed)
	if err != nil {
		return c.Fail(err)
	}
	stream, err := scenes.OpenStream("train")
	if err != nil {
		return c.Fail(err)
	}
	tr, err := segment.NewTrainer(m, stream, opts)
	if err != nil {
		return c.Fail(err)
	}
	in, out := tr.Sizes()
	var times []float64
	for s := range steps + 3 {
		start := time.Now()
		if err := tr.Step(s); err != nil {
			return c.Fail(err)
		}
		if s >= 3 {
			times = append(times, time.Since(start).Seconds())
		}
	}
	slices.Sort(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	c.Printf("%s, %s padding, depth %d, width %d, batch norm %v, %d parameters: batch %d of %d-pixel inputs (%d-pixel outputs), %d steps\n", cfg.Variant, cfg.Padding, cfg.Depth, cfg.Width, cfg.BatchNorm, m.Params.Count(), opts.Batch, in, out, steps)
	c.Printf("RESULT train_s_per_step %.5f\n", med)
	return 0
}
