// Command clockwork runs the Clockwork study: every claim of Clockwork
// Diffusion (Habibian et al., CVPR 2024) tested on an MNIST teacher, next
// to the training-free feature-reuse peers, with figures and a summary:
//
//	go run ./experiments/clockwork                    # the quick study on the shipped teacher
//	go run ./experiments/clockwork -full              # every ablation
//	go run ./experiments/clockwork -full -shard 2/8 -out runs/clockwork-2
//	go run ./experiments/clockwork -merge -out runs/clockwork runs/clockwork-*
//
// It distils the adaptors it needs into -adaptors (reusing those already
// distilled for the same teacher and settings), evaluates each cell with
// the same noise and labels, appends it to DIR/results.jsonl, and writes
// DIR/summary.md, tables.md, results.csv and the figures. A rerun reuses
// everything; an interrupted run resumes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/clockwork-go/clockwork/clockstudy"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/study"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("clockwork", flag.ContinueOnError)
	fs.SetOutput(stderr)
	teacherDir := fs.String("teacher", "", "teacher model directory (default: the shipped teacher)")
	out := fs.String("out", "runs/clockwork", "study directory")
	adaptors := fs.String("adaptors", "", "where adaptors are distilled and reused (default: runs/adaptors/<teacher fingerprint>)")
	full := fs.Bool("full", false, "every ablation (clocks, placements, inputs, data, cut depth, DDIM, 4 and 16 steps), 1000 samples per cell")
	shard := fs.String("shard", "0/1", "run only shard i of n (i/n): every n-th cell from the i-th")
	merge := fs.Bool("merge", false, "merge the study directories given as arguments into -out, and write its summary")
	n := fs.Int("n", 0, "samples per cell (default 500, or 1000 with -full)")
	epochs := fs.Int("epochs", 0, "distillation epochs (default 20, or 40 with -full)")
	trajectories := fs.Int("trajectories", 0, "fresh teacher trajectories per distillation epoch (default 128)")
	timeRepeats := fs.Int("time-repeats", 0, "alternating rounds per cell timed against the 8-step teacher (default 5)")
	timeBatch := fs.Int("time-batch", 0, "batch of the timed runs, the same for every cell (default 64)")
	batch := fs.Int("batch", 100, "sampling batch (results do not depend on it)")
	seed := fs.Uint64("seed", 0, "noise and distillation seed")
	quiet := fs.Bool("quiet", false, "no progress display")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "clockwork: "+format+"\n", a...)
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "clockwork:", err); return 1 }
	if *merge {
		if fs.NArg() == 0 {
			return usage("-merge takes the study directories to merge as arguments")
		}
		return doMerge(*out, fs.Args(), stdout, fail)
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	sh, err := study.ParseShard(*shard)
	if err != nil {
		return usage("%v", err)
	}
	if *batch < 1 {
		return usage("-batch %d must be positive", *batch)
	}
	if *n < 0 || *n == 1 || *n > 1_000_000 {
		return usage("-n %d: want 2 to 1000000 samples per cell", *n)
	}
	if *epochs < 0 || *epochs > 1_000_000 {
		return usage("-epochs %d: want 1 to 1000000", *epochs)
	}
	if *trajectories < 0 || *trajectories > 1_000_000 || *timeRepeats < 0 || *timeRepeats > 1000 || *timeBatch < 0 || *timeBatch > 100_000 {
		return usage("-trajectories %d, -time-repeats %d and -time-batch %d must be positive (and reasonable)", *trajectories, *timeRepeats, *timeBatch)
	}
	dir, err := models.ResolveTeacher(*teacherDir)
	if err != nil {
		return fail(err)
	}
	m, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		return fail(err)
	}
	var cfg clockstudy.Config
	if *full {
		cfg, err = clockstudy.Full(m)
	} else {
		cfg, err = clockstudy.Quick(m)
	}
	if err != nil {
		return fail(err)
	}
	cfg.Seed, cfg.Distill.Seed = *seed, *seed
	if *n > 0 {
		cfg.N = *n
		cfg.Keep = min(cfg.Keep, cfg.N)
	}
	if *epochs > 0 {
		cfg.Distill.Epochs = *epochs
	}
	if *trajectories > 0 {
		cfg.Distill.Trajectories = *trajectories
		cfg.Distill.Validation = min(cfg.Distill.Validation, *trajectories)
	}
	if *timeRepeats > 0 {
		cfg.TimeRepeats = *timeRepeats
	}
	if *timeBatch > 0 {
		cfg.TimeBatch = *timeBatch
	}
	if err := cfg.Validate(m); err != nil {
		return usage("%v", err)
	}
	// A cell's samples (its twin's too), their features and the sampling.
	chw := []int{m.Config.InChannels, 32, 32}
	need, err := diffusion.SampleMemory(m.Config, cfg.N, *batch, chw, false)
	if err != nil {
		return fail(err)
	}
	need += float64(cfg.N) * (4*float64(chw[0]*32*32) + 2*4*metrics.FeatureDim)
	if err := sysmem.Check(need, fmt.Sprintf("-n %d with -batch %d (samples per cell, of %d×32×32)", cfg.N, *batch, chw[0])); err != nil {
		return usage("%v", err)
	}
	if *adaptors == "" {
		*adaptors = filepath.Join("runs", "adaptors", cfg.Teacher)
	}
	c, err := metrics.MNISTClassifier()
	if err != nil {
		return fail(err)
	}
	var logw io.Writer
	if !*quiet {
		logw = stderr
	}
	st := cfg.Study()
	r := &clockstudy.Runner{Config: cfg, Teacher: m, TeacherDir: dir, Noise: noise, Classifier: c, Dir: *out, Adaptors: *adaptors, Batch: *batch, Log: logw, Context: ctx}
	fmt.Fprintf(stdout, "Clockwork study of teacher %s (%s): %d cells of %d samples, shard %s, into %s (adaptors in %s)\n", dir, cfg.Teacher, len(st.Cells), cfg.N, sh, *out, *adaptors)
	start := time.Now()
	// Distil the adaptors the pending cells need first, those of one
	// operating point side by side on shared trajectories.
	pending, err := study.Pending(st, *out, sh)
	if err != nil {
		return fail(err)
	}
	var methods []clockstudy.Method
	for _, c := range pending {
		methods = append(methods, c.Spec.(clockstudy.Method))
	}
	if err := r.Prepare(methods); err != nil {
		if errors.Is(err, study.ErrInterrupted) {
			fmt.Fprintf(stderr, "clockwork: interrupted; distillations are checkpointed. Run the same command again to continue.\n")
			return 130
		}
		return fail(err)
	}
	var prog *cli.Progress
	o := study.Options{Dir: *out, Shard: sh, Progress: func(done, total int, key string) {
		if *quiet {
			return
		}
		if prog == nil {
			prog = cli.NewProgress(stderr, total, "cells").From(done)
		}
		prog.Set(done, key)
	}}
	records, err := study.Run(ctx, st, o, r.Run)
	prog.Finish()
	if errors.Is(err, study.ErrInterrupted) {
		fmt.Fprintf(stderr, "clockwork: interrupted; %d cells are saved in %s and distillations are checkpointed. Run the same command again to continue.\n", len(records), *out)
		return 130
	}
	if err != nil {
		return fail(err)
	}
	res, err := clockstudy.Decode(cfg, records)
	if err != nil {
		return fail(err)
	}
	if _, err := clockstudy.Report(*out, res); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "done in %s: %d of %d cells; summary in %s\n", time.Since(start).Round(time.Second), len(records), len(st.Cells), filepath.Join(*out, "summary.md"))
	if sh.Count > 1 {
		fmt.Fprintf(stdout, "this is shard %s: merge the shards with go run ./experiments/clockwork -merge -out DIR SHARD_DIRS...\n", sh)
	}
	return 0
}

func doMerge(out string, dirs []string, stdout io.Writer, fail func(error) int) int {
	man, err := study.ReadManifest(dirs[0])
	if err != nil {
		return fail(err)
	}
	if man.Study != "clockwork" {
		return fail(fmt.Errorf("%s holds a %q study, not a Clockwork study", dirs[0], man.Study))
	}
	var cfg clockstudy.Config
	if err := json.Unmarshal(man.Config, &cfg); err != nil {
		return fail(fmt.Errorf("%s: %w", filepath.Join(dirs[0], study.ManifestFile), err))
	}
	var keys []string
	for _, c := range cfg.Study().Cells {
		keys = append(keys, c.Key)
	}
	_, records, err := study.Merge(out, dirs, keys, clockstudy.SameResult)
	if err != nil {
		return fail(err)
	}
	res, err := clockstudy.Decode(cfg, records)
	if err != nil {
		return fail(err)
	}
	if _, err := clockstudy.Report(out, res); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "merged %d directories: %d of %d cells; summary in %s\n", len(dirs), len(records), len(keys), filepath.Join(out, "summary.md"))
	return 0
}
