// Command perturb runs the perturbation-robustness study of Clockwork
// Diffusion's Section 3 on a trained MNIST model: a feature map at one tap
// of the U-Net is mixed with noise of its own statistics from step k of 20
// on, and the final samples are compared with their unperturbed twins (same
// noise, same labels): L2 distance, class flips, high-frequency share,
// FID-MNIST and KID per cell.
//
//	go run ./experiments/perturb                       # quick study, a few minutes
//	go run ./experiments/perturb -full                 # the paper's grid, 256 samples per cell
//	go run ./experiments/perturb -full -shard 0/4 -out runs/perturb-0   # one shard of four
//	go run ./experiments/perturb -merge -out runs/perturb runs/perturb-0 runs/perturb-1 ...
//
// Cells are appended to DIR/results.jsonl as they finish; a rerun skips
// them, so an interrupted study resumes. The figures, results.csv and
// summary.md are written at the end (and by -merge).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/perturb"
	"github.com/clockwork-go/clockwork/study"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("perturb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model directory (default: runs/mnist/model if present, else the shipped teacher)")
	out := fs.String("out", "runs/perturb", "study directory")
	full := fs.Bool("full", false, "the paper's grid: dpmpp2m and ddim, k in {0,1,2,3,4,5,10,15}, a in {0,0.3,0.7}, 256 samples per cell")
	shard := fs.String("shard", "0/1", "run only shard i of n (i/n): every n-th cell from the i-th")
	merge := fs.Bool("merge", false, "merge the study directories given as arguments into -out, and write its figures")
	taps := fs.String("taps", "", "comma-separated taps (default: all)")
	ks := fs.String("k", "", "comma-separated start steps k (default: the grid's)")
	as := fs.String("a", "", "comma-separated mixing weights a in [0,1] (default: the grid's)")
	samplers := fs.String("samplers", "", "comma-separated samplers (default: the grid's)")
	n := fs.Int("n", 0, "samples per cell (default: 64, or 256 with -full)")
	steps := fs.Int("steps", 20, "sampling steps")
	batch := fs.Int("batch", 64, "sampling batch size (results do not depend on it)")
	seed := fs.Uint64("seed", 0, "noise seed")
	quiet := fs.Bool("quiet", false, "no progress display")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "perturb: "+format+"\n", a...)
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "perturb:", err); return 1 }
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
	dir, err := models.Resolve(*model)
	if err != nil {
		return fail(err)
	}
	m, s, err := diffusion.LoadModel(dir)
	if err != nil {
		return fail(err)
	}
	infos := m.TapInfos(32, 32)
	var cfg perturb.Config
	if *full {
		cfg = perturb.FullConfig(infos)
	} else {
		cfg = perturb.QuickConfig(infos)
	}
	cfg.ModelHash, cfg.Steps, cfg.Seed = m.Fingerprint(), *steps, *seed
	if *n > 0 {
		cfg.N = *n
		cfg.Keep = min(cfg.Keep, cfg.N)
	}
	if *taps != "" {
		if err := cfg.SetTaps(split(*taps), infos); err != nil {
			return usage("-taps: %v", err)
		}
	}
	if *ks != "" {
		if cfg.From, err = ints(*ks); err != nil {
			return usage("-k: %v", err)
		}
		slices.Sort(cfg.From)
		cfg.From = slices.Compact(cfg.From)
		cfg.GridFrom = cfg.From
	}
	if *as != "" {
		if cfg.A, err = floats(*as); err != nil {
			return usage("-a: %v", err)
		}
		slices.Sort(cfg.A)
		cfg.A = slices.Compact(cfg.A)
		if !slices.Contains(cfg.A, cfg.FigureA) {
			cfg.FigureA = cfg.A[0]
		}
	}
	if *samplers != "" {
		cfg.Samplers = split(*samplers)
	}
	if err := cfg.Validate(m.Taps()); err != nil {
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
	c, err := metrics.MNISTClassifier()
	if err != nil {
		return fail(err)
	}
	st := cfg.Study()
	r := &perturb.Runner{Config: cfg, Model: m, Schedule: s, Classifier: c, Dir: *out, Batch: *batch}
	fmt.Fprintf(stdout, "perturbation study of %s (model %s): %d cells of %d samples, shard %s, into %s\n", dir, cfg.ModelHash, len(st.Cells), cfg.N, sh, *out)
	var prog *cli.Progress
	start := time.Now()
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
		fmt.Fprintf(stderr, "perturb: interrupted; %d cells are saved in %s. Run the same command again to continue.\n", len(records), *out)
		return 130
	}
	if err != nil {
		return fail(err)
	}
	res, err := perturb.Decode(cfg, records)
	if err != nil {
		return fail(err)
	}
	if _, err := perturb.Report(*out, res); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "done in %s: %d of %d cells in %s; summary in %s\n", time.Since(start).Round(time.Second), len(records), len(st.Cells), filepath.Join(*out, study.ResultsFile), filepath.Join(*out, "summary.md"))
	if sh.Count > 1 {
		fmt.Fprintf(stdout, "this is shard %s: merge the shards with go run ./experiments/perturb -merge -out DIR SHARD_DIRS...\n", sh)
	}
	return 0
}

func doMerge(out string, dirs []string, stdout io.Writer, fail func(error) int) int {
	man, err := study.ReadManifest(dirs[0])
	if err != nil {
		return fail(err)
	}
	if man.Study != "perturb" {
		return fail(fmt.Errorf("%s holds a %q study, not a perturbation study", dirs[0], man.Study))
	}
	var cfg perturb.Config
	if err := json.Unmarshal(man.Config, &cfg); err != nil {
		return fail(fmt.Errorf("%s: %w", filepath.Join(dirs[0], study.ManifestFile), err))
	}
	var keys []string
	for _, c := range cfg.Study().Cells {
		keys = append(keys, c.Key)
	}
	_, records, err := study.Merge(out, dirs, keys, nil)
	if err != nil {
		return fail(err)
	}
	res, err := perturb.Decode(cfg, records)
	if err != nil {
		return fail(err)
	}
	if _, err := perturb.Report(out, res); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "merged %d directories: %d of %d cells in %s; summary in %s\n", len(dirs), len(records), len(keys), filepath.Join(out, study.ResultsFile), filepath.Join(out, "summary.md"))
	return 0
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range split(s) {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range split(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}
