// Command clockwork runs the Clockwork study: every claim of Clockwork
// Diffusion (Habibian et al., CVPR 2024) tested on an MNIST teacher, next
// to the training-free feature-reuse peers, with figures and a summary. It
// distils the adaptors it needs into -adaptors (reusing those already
// distilled for the same teacher and settings), measures each cell against
// the teacher from the same noise and labels, appends it to
// DIR/results.jsonl, and writes DIR/summary.md, tables.md, results.csv and
// the figures. A rerun reuses everything; an interrupted run resumes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"time"

	"github.com/clockwork-go/clockwork/clockstudy"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/study"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("clockwork", "the Clockwork study: adaptors distilled and measured against the teacher, the paper's claims tested one by one",
		[]string{"clockwork                                  # the quick study on the shipped teacher",
			"clockwork -full -shard 2/8 -out runs/clockwork-2", "clockwork -merge -out runs/clockwork runs/clockwork-*"}, stdout, stderr)
	var sf cli.StudyFlags
	sf.Register(c, filepath.Join("runs", "clockwork"), "every ablation (clocks, placements, inputs, data, cut depth, DDIM, 4 and 16 steps), 1000 samples per cell", 100)
	fs := c.Flags
	model := fs.String("model", "", "teacher model directory (default: the shipped teacher)")
	adaptors := fs.String("adaptors", "", "where adaptors are distilled and reused (default: runs/adaptors/<teacher fingerprint>)")
	epochs := fs.Int("epochs", 0, "distillation epochs (default: the study's)")
	trajectories := fs.Int("trajectories", 0, "fresh teacher trajectories per distillation epoch (default: the study's)")
	rounds := fs.Int("time-rounds", 0, "alternating rounds per cell timed against the 8-step teacher (default 11)")
	timeBatch := fs.Int("time-batch", 0, "batch of the timed runs, the same for every cell (default 64)")
	if code, ok := c.Parse(args, true); !ok {
		return code
	}
	if sf.Merging {
		return sf.Merge(c, "clockwork", func(raw json.RawMessage) (study.Study, error) {
			var cfg clockstudy.Config
			err := json.Unmarshal(raw, &cfg)
			return cfg.Study(), err
		}, clockstudy.SameResult, func(st study.Study, recs []study.Record) error {
			return report(sf.Out, st.Config.(clockstudy.Config), recs)
		})
	}
	if c.Flags.NArg() > 0 {
		return c.Usage("unexpected argument %q", c.Flags.Arg(0))
	}
	if err := sf.Check(); err != nil {
		return c.Usage("%v", err)
	}
	if *epochs < 0 || *epochs > 1_000_000 || *trajectories < 0 || *trajectories > 1_000_000 || *rounds < 0 || *rounds > 1000 || *timeBatch < 0 || *timeBatch > 100_000 {
		return c.Usage("-epochs %d, -trajectories %d, -time-rounds %d and -time-batch %d must be positive (and reasonable)", *epochs, *trajectories, *rounds, *timeBatch)
	}
	dir, err := models.Resolve(*model)
	if err != nil {
		return c.Fail(err)
	}
	m, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		return c.Fail(err)
	}
	cfg, err := clockstudy.Quick(m)
	if sf.Full {
		cfg, err = clockstudy.Full(m)
	}
	if err != nil {
		return c.Fail(err)
	}
	cfg.Seed, cfg.Distill.Seed = sf.Seed, sf.Seed
	if sf.N > 0 {
		cfg.N, cfg.Keep = sf.N, min(cfg.Keep, sf.N)
	}
	if *trajectories > 0 {
		cfg.Distill.Trajectories, cfg.Distill.Validation = *trajectories, min(cfg.Distill.Validation, *trajectories)
	}
	for v, to := range map[*int]*int{epochs: &cfg.Distill.Epochs, rounds: &cfg.TimeRounds, timeBatch: &cfg.TimeBatch} {
		if *v > 0 {
			*to = *v
		}
	}
	if err := cfg.Validate(m); err != nil {
		return c.Usage("%v", err)
	}
	if err := sf.CheckMemory(m.Config, cfg.N); err != nil {
		return c.Usage("%v", err)
	}
	if *adaptors == "" {
		*adaptors = filepath.Join("runs", "adaptors", cfg.Model)
	}
	clf, err := metrics.MNISTClassifier()
	if err != nil {
		return c.Fail(err)
	}
	var logw io.Writer
	if !sf.Quiet {
		logw = stderr
	}
	st := cfg.Study()
	r := &clockstudy.Runner{Config: cfg, Model: m, ModelDir: dir, Noise: noise, Classifier: clf, Dir: sf.Out, Adaptors: *adaptors, Batch: sf.Batch, Log: logw, Context: ctx}
	c.Printf("Clockwork study of teacher %s (%s): %d cells of %d samples, shard %s, into %s (adaptors in %s)\n", dir, cfg.Model, len(st.Cells), cfg.N, sf.Sharded(), sf.Out, *adaptors)
	start := time.Now()
	// The adaptors the pending cells need first, those of one operating
	// point side by side on shared trajectories.
	pending, err := study.Pending(st, sf.Out, sf.Sharded())
	if err != nil {
		return c.Fail(err)
	}
	var methods []clockstudy.Method
	for _, cell := range pending {
		methods = append(methods, cell.Spec.(clockstudy.Method))
	}
	if err := r.Prepare(methods); errors.Is(err, study.ErrInterrupted) {
		return c.Interrupted("distillations are checkpointed. Run the same command again to continue.")
	} else if err != nil {
		return c.Fail(err)
	}
	recs, code, ok := sf.Run(ctx, c, st, r.Run)
	if !ok {
		return code
	}
	if err := report(sf.Out, cfg, recs); err != nil {
		return c.Fail(err)
	}
	c.Printf("done in %s: %d of %d cells; summary in %s\n", time.Since(start).Round(time.Second), len(recs), len(st.Cells), filepath.Join(sf.Out, "summary.md"))
	sf.Shards(c)
	return 0
}

func report(dir string, cfg clockstudy.Config, recs []study.Record) error {
	res, err := clockstudy.Decode(cfg, recs)
	if err == nil {
		_, err = clockstudy.Report(dir, res)
	}
	return err
}
