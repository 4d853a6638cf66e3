// Package clockwork is the clockwork command, run as `clockwork study clockwork` (cmd/clockwork)
// or `go run ./experiments/clockwork`; the command's documentation is in
// experiments/clockwork.
package clockwork

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/clockwork-go/clockwork/clockstudy"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/unet"
)

// Run runs the clockwork command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status; ctx's cancellation
// (Ctrl-C) interrupts it as the command documents.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("clockwork", "the Clockwork study: adaptors distilled and measured against the teacher, the paper's claims tested one by one",
		[]string{"clockwork                                  # the quick study on the shipped teacher",
			"clockwork -full -shard 2/8 -out runs/clockwork-2", "clockwork -merge -out runs/clockwork runs/clockwork-*",
			"clockwork -teacher models/mnist_text -out runs/clockwork-text   # text-to-image"}, stdout, stderr)
	var sf cli.StudyFlags
	sf.Register(c, filepath.Join("runs", "clockwork"), "every ablation (clocks, placements, inputs, data, cut depth, DDIM, 4 and 16 steps), 1000 samples per cell", 100)
	fs := c.Flags
	model := fs.String("model", "", "teacher model directory (default: the shipped teacher)")
	fs.StringVar(model, "teacher", "", "the same as -model")
	adaptors := fs.String("adaptors", "", "where adaptors are distilled and reused (default: runs/adaptors/<teacher fingerprint>)")
	epochs := fs.Int("epochs", 0, "distillation epochs (default: the study's)")
	trajectories := fs.Int("trajectories", 0, "fresh teacher trajectories per distillation epoch (default: the study's)")
	rounds := fs.Int("time-rounds", 0, fmt.Sprintf("alternating rounds per cell timed against the 8-step teacher (default %d)", clockstudy.DefaultTimeRounds))
	timeBatch := fs.Int("time-batch", 0, "batch of the timed runs, the same for every cell (default 64)")
	if code, ok := c.Parse(args, true); !ok {
		return code
	}
	plan := func(m *unet.Model, dir string, noise *diffusion.Schedule) (cli.Plan, error) {
		if *epochs < 0 || *epochs > 1_000_000 || *trajectories < 0 || *trajectories > 1_000_000 || *rounds < 0 || *rounds > 1000 || *timeBatch < 0 || *timeBatch > 100_000 {
			return cli.Plan{}, cli.UsageError(fmt.Errorf("-epochs %d, -trajectories %d, -time-rounds %d and -time-batch %d must be positive (and reasonable)", *epochs, *trajectories, *rounds, *timeBatch))
		}
		cfg, err := clockstudy.Quick(m)
		if sf.Full {
			cfg, err = clockstudy.Full(m)
		}
		if err != nil {
			return cli.Plan{}, err
		}
		if d, err := diffusion.LoadSamplingDefaults(dir); err != nil {
			return cli.Plan{}, err
		} else if d != nil && m.Config.Conditional() {
			cfg.Guidance = d.Guidance // the teacher's own, chosen on validation prompts
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
			return cli.Plan{}, cli.UsageError(err)
		}
		if *adaptors == "" {
			*adaptors = filepath.Join("runs", "adaptors", cfg.Model)
		}
		clf, err := metrics.MNISTClassifier()
		if err != nil {
			return cli.Plan{}, err
		}
		var logw io.Writer
		if !sf.Quiet {
			logw = stderr
		}
		r := &clockstudy.Runner{Config: cfg, Model: m, ModelDir: dir, Noise: noise, Classifier: clf, Dir: sf.Out, Adaptors: *adaptors, Batch: sf.Batch, Log: logw, Context: ctx}
		if r.Text, r.Captions, err = cli.StudyText(dir, m); err != nil {
			return cli.Plan{}, err
		}
		return cli.Plan{Study: cfg.Study(), N: cfg.N, Run: r.Run, Before: func(pending []study.Cell) error {
			// The adaptors first, those of one operating point side by
			// side on shared trajectories.
			var methods []clockstudy.Method
			for _, cell := range pending {
				methods = append(methods, cell.Spec.(clockstudy.Method))
			}
			return r.Prepare(methods)
		}, Describe: fmt.Sprintf("Clockwork study of %s (%s), adaptors in %s", models.Label(dir), cfg.Model, *adaptors)}, nil
	}
	return sf.Main(ctx, c, *model, cli.Study{Name: "clockwork", Same: clockstudy.SameResult, Plan: plan,
		Decode: study.Decoder[clockstudy.Config](), Report: study.Reporter(clockstudy.Decode, clockstudy.Report)})
}
