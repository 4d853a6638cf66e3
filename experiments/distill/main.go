// Command distill trains a Clockwork adaptor for a teacher model by
// model-step distillation (Habibian et al., CVPR 2024, Sec. 4.4): each
// epoch it unrolls fresh teacher trajectories with the deployment sampler
// and step count and fits the adaptor to the core's output r_out at the
// schedule's adaptor steps. It writes an adaptor directory (adaptor.json,
// adaptor.npz, metrics.jsonl, checkpoints/) beside the teacher's:
//
//	go run ./experiments/distill -model runs/mnist/model                 # ResNet adaptor, clock 2, 8 DPM-Solver++ steps
//	go run ./experiments/distill -model DIR -adaptor unet-light -at 2,4,6,8 -epochs 60
//	go run ./experiments/distill -out DIR -resume                        # continue after Ctrl-C
//
// Then sample or evaluate with it: go run ./experiments/eval -model DIR -steps 8 -adaptor ADAPTOR_DIR.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/train"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("distill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := distill.DefaultConfig()
	model := fs.String("model", "", "teacher model directory (default: runs/mnist/model, else the shipped teacher)")
	out := fs.String("out", "", "adaptor directory (default: beside the teacher, in adaptors/<name>; for the shipped teacher runs/adaptors/<teacher fingerprint>/<name>)")
	resume := fs.Bool("resume", false, "continue the distillation in -out")
	fs.StringVar(&c.Adaptor.Kind, "adaptor", c.Adaptor.Kind, "adaptor: resnet, unet-light or scaleshift")
	width := fs.Int("width", 0, "adaptor width (default: the kind's)")
	fs.IntVar(&c.Adaptor.Depth, "depth", c.Adaptor.Depth, "cut depth: 1 keeps the first down and last up block in the shell, 2 one level more")
	fs.BoolVar(&c.Adaptor.NoPrev, "no-prev", false, "without the previous step's r_out (input ablation)")
	fs.BoolVar(&c.Adaptor.StepSize, "step-size", false, "condition the adaptor on the step size (for -step-counts)")
	stepCounts := fs.String("step-counts", "", "distil one adaptor for several step counts, e.g. 4,8,16 (with -step-size)")
	fs.StringVar(&c.Sampler, "sampler", c.Sampler, "sampler the adaptor is distilled for")
	fs.IntVar(&c.Adaptor.Steps, "steps", c.Adaptor.Steps, "sampling steps the adaptor is distilled for")
	clock := fs.Int("clock", 0, "clock N: the full U-Net every N steps, the adaptor otherwise (default 2)")
	at := fs.String("at", "", "explicit 1-based adaptor steps, e.g. 2,4,6,8, or all (with -no-prev)")
	fs.StringVar(&c.Data, "data", c.Data, "unrolled (teacher trajectories) or noised (forward-noised MNIST images)")
	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "epochs")
	fs.IntVar(&c.Trajectories, "trajectories", c.Trajectories, "fresh trajectories per epoch")
	fs.IntVar(&c.Validation, "validation", c.Validation, "held-out trajectories for the validation loss")
	fs.IntVar(&c.Batch, "batch", c.Batch, "minibatch of records")
	fs.Float64Var(&c.LR, "lr", c.LR, "Adam learning rate")
	fs.StringVar(&c.Decay, "decay", c.Decay, "learning-rate decay: constant or cosine")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of initialisation, trajectories and minibatches")
	unroll := fs.Int("unroll-batch", 64, "sampling batch of the trajectories (results do not depend on it)")
	quiet := fs.Bool("quiet", false, "no progress display")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "distill: "+format+"\n", a...)
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "distill:", err); return 1 }
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if *clock != 0 && *at != "" {
		return usage("give -clock or -at, not both")
	}
	switch {
	case *at != "":
		c.Schedule = *at
	case *clock != 0:
		c.Schedule = fmt.Sprintf("clock:%d", *clock)
	}
	if *stepCounts != "" {
		for _, f := range strings.Split(*stepCounts, ",") {
			k, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return usage("-step-counts %q: want a list of step counts such as 4,8,16", *stepCounts)
			}
			c.StepCounts = append(c.StepCounts, k)
		}
	}
	c.Adaptor.Width = *width
	if c.Adaptor.Width == 0 {
		c.Adaptor.Width = distill.DefaultWidth(c.Adaptor.Kind)
	}
	if *unroll < 1 {
		return usage("-unroll-batch %d must be positive", *unroll)
	}
	if *resume {
		set := []string{}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "out", "resume", "model", "quiet", "unroll-batch", "epochs":
			default:
				set = append(set, "-"+f.Name)
			}
		})
		if len(set) > 0 {
			return usage("-resume continues with the checkpoint's settings; %s cannot change them (only -epochs can)", strings.Join(set, ", "))
		}
		if *out == "" {
			return usage("-resume needs -out, the adaptor directory to continue")
		}
	} else if err := c.Validate(); err != nil {
		return usage("%v", err)
	}
	dir, err := models.Resolve(*model)
	if err != nil {
		return fail(err)
	}
	teacher, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		return fail(err)
	}
	if *resume {
		// The data a resumed distillation needs is the checkpoint's.
		if cc, err := distill.CheckpointConfig(*out); err == nil {
			c.Data = cc.Data
		}
	}
	var data *datasets.Images
	if c.Data == "noised" {
		if data, err = datasets.MNIST("train", "", true); err != nil {
			return fail(err)
		}
	}
	if *out == "" {
		*out = filepath.Join(filepath.Dir(filepath.Clean(dir)), "adaptors", c.Name())
		if models.IsTeacher(dir) {
			// Not into the user's cache or the checkout's models/: where
			// the Clockwork study keeps the shipped teacher's adaptors.
			*out = filepath.Join("runs", "adaptors", teacher.Fingerprint(), c.Name())
		}
	}
	if err := fsutil.CheckOutDir("-out", *out); err != nil {
		return usage("%v", err)
	}
	if _, err := os.Stat(*out); *resume && err != nil {
		return fail(fmt.Errorf("%s has no checkpoint to resume: %w", *out, err))
	}
	_, statErr := os.Stat(*out)
	created := statErr != nil
	unlock, err := fsutil.Lock(*out)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	// abandon undoes the lock's directory when this command created it and
	// fails before distilling.
	abandon := func(err error) int {
		if created {
			unlock()
			os.Remove(filepath.Join(*out, fsutil.LockFile))
			os.Remove(*out)
		}
		return fail(err)
	}
	var d *distill.Distiller
	if *resume {
		if d, err = distill.ResumeDistiller(*out, teacher, dir, noise, data); err != nil {
			return fail(err)
		}
		if d.Note != "" {
			fmt.Fprintln(stdout, "note:", d.Note)
		}
		epochsSet := false
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "epochs" {
				epochsSet = true
				d.Config.Epochs = c.Epochs
			}
		})
		if epochsSet && c.Epochs < d.Epoch {
			return usage("-epochs %d: the distillation in %s is already at epoch %d; give more epochs to continue it", c.Epochs, *out, d.Epoch)
		}
		fmt.Fprintf(stdout, "resuming %s at epoch %d of %d\n", *out, d.Epoch, d.Config.Epochs)
	} else {
		if d, err = distill.NewDistiller(*out, teacher, dir, noise, c, data); err != nil {
			return abandon(err)
		}
		a := d.Adaptor
		fmt.Fprintf(stdout, "distilling a %s adaptor (%d parameters, %.2f MFLOPs per sample) for %s (%s) at %d %s steps, schedule %s, %s data, into %s; records take about %.0f MB\n",
			a.Spec.Kind, a.Params.Count(), float64(a.FLOPs())/1e6, dir, teacher.Fingerprint(), a.Spec.Steps, c.Sampler, c.Schedule, c.Data, *out, float64(c.MemoryEstimate(a))/1e6)
	}
	d.UnrollBatch = *unroll
	var prog *cli.Progress
	if !*quiet {
		prog = cli.NewProgress(stderr, d.Config.Epochs, "epochs").From(d.Epoch)
		d.Progress = func(p train.Progress) { prog.Set(p.Done, p.Status) }
	}
	start := time.Now()
	err = d.Run(ctx)
	prog.Finish()
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(stderr, "distill: interrupted at epoch %d; checkpoint written. Continue with: go run ./experiments/distill -out %s -resume\n", d.Epoch, *out)
		return 130
	}
	if err != nil {
		return fail(err)
	}
	m := d.Manifest()
	fmt.Fprintf(stdout, "done: %d epochs in %s; validation loss %.5f (identity adaptor %.5f); adaptor in %s\n", m.Epochs, time.Since(start).Round(time.Second), m.ValLoss, m.IdentityValLoss, *out)
	return 0
}
