// Command train trains a diffusion U-Net and writes a run directory:
//
//	go run ./experiments/train                       # class-conditional MNIST, reference config
//	go run ./experiments/train -out runs/mnist -resume  # continue after Ctrl-C
//	go run ./experiments/train -out runs/mnist -resume -from 500  # continue from an earlier checkpoint
//
// The run directory holds checkpoints/ (resumable; Ctrl-C writes one),
// metrics.jsonl, samples/ (grids drawn from the EMA weights) and, at the end,
// model/: a diffusers-style model directory of the EMA weights, with
// scheduler_config.json, for experiments/sample.
//
// One process writes a run directory at a time: the command holds its lock
// (.lock, naming the process) and a second one is refused. A resume checks
// the checkpoint it continues from (every field and array) and that -data
// gives the images the run was trained on (-force continues on others); a
// run killed before writing its latest file continues from its newest
// complete checkpoint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/plots"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := diffusion.DefaultTrainConfig()
	out := fs.String("out", "runs/mnist", "run directory")
	config := fs.String("config", "mnist", "U-Net config: an embedded name, a config.json or a model directory")
	data := fs.String("data", "mnist", "training data: mnist, mnist:DIR, shapes[:N], npz:PATH[:images[:labels[:classes]]]")
	resume := fs.Bool("resume", false, "continue the run in -out from its latest checkpoint (or, when that is missing or incomplete, its newest complete one)")
	from := fs.Int("from", -1, "with -resume: continue from the checkpoint of this step instead of the latest; later checkpoints are discarded")
	force := fs.Bool("force", false, "with -resume: continue even though -data gives other images than the run was trained on")
	quiet := fs.Bool("quiet", false, "no progress display")
	c := &d
	fs.IntVar(&c.Steps, "steps", d.Steps, "training steps (with -resume: the new total)")
	fs.IntVar(&c.BatchSize, "batch", d.BatchSize, "batch size")
	fs.Float64Var(&c.LR, "lr", d.LR, "peak learning rate")
	fs.IntVar(&c.Warmup, "warmup", d.Warmup, "learning-rate warm-up steps")
	fs.StringVar(&c.Decay, "decay", d.Decay, "learning-rate decay after warm-up: constant or cosine")
	fs.StringVar(&c.Optimizer, "optimizer", d.Optimizer, "adam or adamw")
	fs.Float64Var(&c.WeightDecay, "weight-decay", d.WeightDecay, "weight decay")
	fs.Float64Var(&c.EMADecay, "ema", d.EMADecay, "EMA decay of the weights used for sampling")
	fs.Float64Var(&c.GradClip, "clip", d.GradClip, "gradient global-norm clip (0: none)")
	fs.Float64Var(&c.CondDropout, "cond-dropout", d.CondDropout, "probability of the null class (classifier-free guidance)")
	fs.Float64Var(&c.MinSNRGamma, "min-snr", d.MinSNRGamma, "min-SNR-gamma loss weighting (0: none)")
	fs.Uint64Var(&c.Seed, "seed", d.Seed, "seed of initialisation, data order and noise")
	fs.IntVar(&c.CheckpointEvery, "checkpoint-every", d.CheckpointEvery, "steps between checkpoints")
	fs.IntVar(&c.SampleEvery, "sample-every", d.SampleEvery, "steps between sample grids (0: none)")
	fs.IntVar(&c.LogEvery, "log-every", d.LogEvery, "steps between metrics lines")
	fs.StringVar(&c.Schedule.PredictionType, "prediction", d.Schedule.PredictionType, "epsilon, v_prediction or sample")
	fs.StringVar(&c.Schedule.BetaSchedule, "beta-schedule", d.Schedule.BetaSchedule, "linear, scaled_linear, squaredcos_cap_v2 or sigmoid")
	fs.BoolVar(&c.Schedule.RescaleBetasZeroSNR, "zero-snr", d.Schedule.RescaleBetasZeroSNR, "rescale betas to zero terminal SNR (needs -prediction v_prediction or sample)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "train: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "train: "+format+"\n", a...)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "train:", err)
		return 1
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !*resume && (set["from"] || *force) {
		return usage("-from and -force go with -resume")
	}
	if err := fsutil.CheckOutDir("-out", *out); err != nil {
		return usage("%v", err)
	}
	// Every flag and the sizes it implies are checked before the run
	// directory is created or locked.
	var m *unet.Model
	if *resume {
		// A resumed run keeps its checkpointed settings: only where to
		// write, the data, the step count and -quiet may be given.
		var fixed []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "out", "data", "steps", "quiet", "resume", "from", "force":
			default:
				fixed = append(fixed, "-"+f.Name)
			}
		})
		if len(fixed) > 0 {
			return usage("-resume continues with the checkpoint's settings; %s cannot change them (only -steps can)", strings.Join(fixed, ", "))
		}
		if set["steps"] && c.Steps <= 0 {
			return usage("-steps %d must be positive", c.Steps)
		}
		if _, err := os.Stat(*out); err != nil {
			return fail(fmt.Errorf("run %s has no checkpoint: %w", *out, err))
		}
	} else {
		if err := c.Validate(); err != nil {
			return fail(fmt.Errorf("training config: %w", err))
		}
	}
	images, err := datasets.Open(*data, "train")
	if err != nil {
		return fail(err)
	}
	if !*resume {
		cfg, err := unet.ConfigFrom(*config)
		if err != nil {
			return fail(err)
		}
		ch, h, w := images.Shape()
		if ch != cfg.InChannels || ch != cfg.OutChannels {
			return fail(fmt.Errorf("-data %s has %d channels; -config %s takes %d and gives %d", *data, ch, *config, cfg.InChannels, cfg.OutChannels))
		}
		if err := cfg.CheckSize(h, w); err != nil {
			return fail(fmt.Errorf("-data %s with -config %s: %w", *data, *config, err))
		}
		// The weights first (a width too large), then a step's memory.
		if m, err = unet.New(cfg, c.Seed); err != nil {
			return fail(fmt.Errorf("-config %s: %w", *config, err))
		}
		need, err := diffusion.TrainMemory(cfg, c.BatchSize, h, w)
		if err != nil {
			return fail(err)
		}
		if err := sysmem.Check(need, fmt.Sprintf("-batch %d (training -config %s, %d parameters, on %d×%d×%d images)", c.BatchSize, *config, m.Params.Count(), ch, h, w)); err != nil {
			return fail(err)
		}
	}
	_, statErr := os.Stat(*out)
	created := statErr != nil
	unlock, err := fsutil.Lock(*out)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	// abandon undoes the lock's directory when this command created it and
	// fails before training.
	abandon := func(err error) int {
		if created {
			unlock()
			os.Remove(filepath.Join(*out, fsutil.LockFile))
			os.Remove(*out)
		}
		return fail(err)
	}
	var tr *diffusion.Trainer
	if *resume {
		if tr, err = diffusion.Resume(*out, images, diffusion.ResumeOptions{From: *from, ForceData: *force}); err != nil {
			return fail(err)
		}
		for _, n := range tr.Notes {
			fmt.Fprintln(stdout, "note:", n)
		}
		if set["steps"] {
			if c.Steps < tr.Step {
				return usage("-steps %d: the run in %s is already at step %d; give more steps to continue it", c.Steps, *out, tr.Step)
			}
			tr.Config.Steps = c.Steps
		}
		if tr.Step >= tr.Config.Steps {
			fmt.Fprintf(stdout, "nothing to train: %s is already at step %d of %d (give -steps above %d to train on)\n", *out, tr.Step, tr.Config.Steps, tr.Step)
		} else {
			fmt.Fprintf(stdout, "resuming %s at step %d of %d\n", *out, tr.Step, tr.Config.Steps)
		}
	} else {
		if tr, err = diffusion.NewTrainer(*out, m, images, *c); err != nil {
			return abandon(err)
		}
		fmt.Fprintf(stdout, "training %s (%d parameters) on %s (%d images) for %d steps of %d into %s\n",
			*config, m.Params.Count(), images.Name, images.Len(), c.Steps, c.BatchSize, *out)
	}
	tr.Note = func(n string) { fmt.Fprintln(stdout, "note:", n) }
	var prog *cli.Progress
	if !*quiet {
		prog = cli.NewProgress(stderr, tr.Config.Steps, "train").From(tr.Step)
		tr.Progress = func(p train.Progress) { prog.Set(p.Done, p.Status) }
	}
	tr.Grid = func(step int, x *tensor.Dense, cols int) error {
		s := x.Shape()
		path := filepath.Join(*out, "samples", fmt.Sprintf("step-%08d.png", step))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return plots.SaveGridPNG(path, x.Data().([]float32), s[0], s[1], s[2], s[3], cols, 2)
	}
	start, startStep := time.Now(), tr.Step
	err = tr.Run(ctx)
	prog.Finish()
	if errors.Is(err, diffusion.ErrInterrupted) {
		fmt.Fprintf(stderr, "train: interrupted at step %d; checkpoint written. Continue with: go run ./experiments/train -out %s -resume\n", tr.Step, *out)
		return 130
	}
	if err != nil {
		return fail(err)
	}
	if tr.Step == startStep {
		fmt.Fprintf(stdout, "EMA model of step %d in %s\n", tr.Step, filepath.Join(*out, "model"))
		return 0
	}
	fmt.Fprintf(stdout, "done: %d steps in %s; EMA model in %s\n", tr.Step, time.Since(start).Round(time.Second), filepath.Join(*out, "model"))
	return 0
}
