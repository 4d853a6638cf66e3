// Package distill is the distill command, run as `clockwork distill` (cmd/clockwork)
// or `go run ./experiments/distill`; the command's documentation is in
// experiments/distill.
package distill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/train"
)

// Run runs the distill command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status; ctx's cancellation
// (Ctrl-C) interrupts it as the command documents.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("distill", "distil a Clockwork adaptor from a teacher's own trajectories (model-step distillation)",
		[]string{"distill                                  # resnet, dpmpp2m 8 steps, clock 2, on the shipped teacher",
			"distill -model DIR -adaptor unet-light -at 2,4,6,8 -epochs 60", "distill -out DIR -resume                 # continue after Ctrl-C"}, stdout, stderr)
	fs := c.Flags
	cfg := distill.DefaultConfig()
	model := fs.String("model", "", "teacher model directory (default: the shipped teacher)")
	out := fs.String("out", "", "adaptor directory (default: <teacher>/../adaptors/<name>; for the shipped teacher runs/adaptors/<fingerprint>/<name>)")
	resume := fs.Bool("resume", false, "continue the distillation in -out (-epochs may give a new total)")
	cfg.Register(fs)
	unroll := fs.Int("unroll-batch", 64, "sampling batch of the trajectories (results do not depend on it)")
	quiet := fs.Bool("quiet", false, "no progress display")
	if code, ok := c.Parse(args, false); !ok {
		return code
	}
	if c.Given("clock") && c.Given("at") {
		return c.Usage("give -clock or -at, not both")
	}
	if *unroll < 1 {
		return c.Usage("-unroll-batch %d must be positive", *unroll)
	}
	cfg.Adaptor = cfg.Adaptor.WithDefaults()
	if *resume {
		if fixed := c.GivenExcept("out", "resume", "model", "quiet", "unroll-batch", "epochs"); len(fixed) > 0 {
			return c.Usage("-resume continues with the checkpoint's settings; %s cannot change them (only -epochs can)", strings.Join(fixed, ", "))
		}
		if *out == "" {
			return c.Usage("-resume needs -out, the adaptor directory to continue")
		}
		cc, err := distill.CheckpointConfig(*out)
		if err != nil {
			return c.Fail(fmt.Errorf("%s has no checkpoint to resume: %w", *out, err))
		}
		cfg.Data = cc.Data // what a resumed distillation needs is the checkpoint's
	} else if err := cfg.Validate(); err != nil {
		return c.Usage("%v", err)
	}
	dir, err := models.Resolve(*model)
	if err != nil {
		return c.Fail(err)
	}
	teacher, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		return c.Fail(err)
	}
	if !*resume && distill.FromSource(cfg.Strength) && !edits.IsEditor(teacher.Config) {
		return c.Usage("-strength %g starts each trajectory from an edit's source: -model %s is not an instruction-guided editor", cfg.Strength, dir)
	}
	var data *datasets.Images
	if cfg.Data == "noised" {
		if data, err = datasets.MNIST("train", "", true); err != nil {
			return c.Fail(err)
		}
	}
	if *out == "" {
		*out = filepath.Join(filepath.Dir(filepath.Clean(dir)), "adaptors", cfg.Name())
		if models.IsTeacher(dir) { // not into the user's cache or the checkout's models/
			*out = filepath.Join("runs", "adaptors", teacher.Fingerprint(), cfg.Name())
		}
	}
	if err := fsutil.CheckOutDir("-out", *out); err != nil {
		return c.Usage("%v", err)
	}
	release, abandon, err := cli.Claim(*out, "distill")
	if err != nil {
		return c.Fail(err)
	}
	defer release()
	var d *distill.Distiller
	if *resume {
		if d, err = distill.ResumeDistiller(*out, teacher, dir, noise, data); err != nil {
			return c.Fail(err)
		}
		if d.Note != "" {
			c.Printf("note: %s\n", d.Note)
		}
		if c.Given("epochs") {
			if cfg.Epochs < d.Epoch {
				return c.Usage("-epochs %d: the distillation in %s is already at epoch %d; give more epochs to continue it", cfg.Epochs, *out, d.Epoch)
			}
			d.Config.Epochs = cfg.Epochs
		}
		c.Printf("resuming %s at epoch %d of %d\n", *out, d.Epoch, d.Config.Epochs)
	} else {
		if d, err = distill.NewDistiller(*out, teacher, dir, noise, cfg, data); err != nil {
			abandon()
			return c.Fail(err)
		}
		a := d.Adaptor
		steps := fmt.Sprintf("%d %s steps", cfg.Adaptor.Steps, cfg.Sampler)
		if distill.FromSource(cfg.Strength) {
			k, _ := diffusion.StepsFrom(cfg.Adaptor.Steps, cfg.Strength)
			steps = fmt.Sprintf("the last %d of %d %s steps from the source (strength %g)", k, cfg.Adaptor.Steps, cfg.Sampler, cfg.Strength)
		}
		c.Printf("distilling a %s adaptor (%d parameters, %.2f MFLOPs per sample) for %s (%s) at %s, schedule %s, %s data, into %s; records take about %.0f MB\n",
			cfg.Adaptor.Kind, a.Params().Count(), float64(a.FLOPs())/1e6, dir, teacher.Fingerprint(), steps, cfg.Clock, cfg.Data, *out, float64(cfg.MemoryEstimate(a.Base()))/1e6)
	}
	if err := cli.DistillText(d, dir); err != nil {
		return c.Fail(err)
	}
	d.UnrollBatch = *unroll
	defer c.Provenance(*out)()
	var prog *cli.Progress
	if !*quiet {
		prog = cli.NewProgress(stderr, d.Config.Epochs, "epochs").From(d.Epoch)
		d.Progress = func(p train.Progress) { prog.Set(p.Done, p.Status) }
	}
	start := time.Now()
	err = d.Run(ctx)
	prog.Finish()
	if errors.Is(err, train.ErrInterrupted) {
		return c.Interrupted("checkpoint of epoch %d written. Continue with: distill -out %s -resume", d.Epoch, *out)
	}
	if err != nil {
		return c.Fail(err)
	}
	m := d.Manifest()
	c.Printf("done: %d epochs in %s; validation loss %.5f (identity adaptor %.5f); adaptor in %s\n", m.Epochs, time.Since(start).Round(time.Second), m.ValLoss, m.IdentityValLoss, *out)
	return 0
}
