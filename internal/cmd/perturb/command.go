// Package perturb is the perturb command, run as `clockwork study perturb` (cmd/clockwork)
// or `go run ./experiments/perturb`; the command's documentation is in
// experiments/perturb.
package perturb

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/perturbstudy"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/unet"
)

// Run runs the perturb command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status; ctx's cancellation
// (Ctrl-C) interrupts it as the command documents.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("perturb", "the perturbation study: which U-Net features can be perturbed from step k on without changing the samples",
		[]string{"perturb                          # the quick study on the shipped teacher, a few minutes",
			"perturb -full -shard 0/4 -out runs/perturb-0", "perturb -merge -out runs/perturb runs/perturb-*"}, stdout, stderr)
	var sf cli.StudyFlags
	sf.Register(c, filepath.Join("runs", "perturb"), "the paper's grid: dpmpp2m and ddim, k in {0,1,2,3,4,5,10,15}, a in {0,0.3,0.7}, 256 samples per cell", 64)
	fs := c.Flags
	model := fs.String("model", "", "model directory (default: the shipped teacher)")
	taps := fs.String("taps", "", "comma-separated taps (default: all)")
	ks := fs.String("k", "", "comma-separated start steps k (default: the grid's)")
	as := fs.String("a", "", "comma-separated mixing weights a in [0,1] (default: the grid's)")
	samplers := fs.String("samplers", "", "comma-separated samplers (default: the grid's)")
	steps := fs.Int("steps", 20, "sampling steps")
	if code, ok := c.Parse(args, true); !ok {
		return code
	}
	plan := func(m *unet.Model, dir string, noise *diffusion.Schedule) (cli.Plan, error) {
		cfg, err := perturbstudy.QuickConfig(m)
		if sf.Full {
			cfg, err = perturbstudy.FullConfig(m)
		}
		if err != nil {
			return cli.Plan{}, err
		}
		cfg.Steps, cfg.Seed = *steps, sf.Seed
		if sf.N > 0 {
			cfg.N, cfg.Keep = sf.N, min(cfg.Keep, sf.N)
		}
		infos, _ := perturbstudy.TapInfos(m)
		if err := cfg.Narrow(*taps, *ks, *as, *samplers, infos); err != nil {
			return cli.Plan{}, cli.UsageError(err)
		}
		if err := cfg.Validate(m.Taps()); err != nil {
			return cli.Plan{}, cli.UsageError(err)
		}
		clf, err := metrics.MNISTClassifier()
		if err != nil {
			return cli.Plan{}, err
		}
		r := &perturbstudy.Runner{Config: cfg, Model: m, Noise: noise, Classifier: clf, Dir: sf.Out, Batch: sf.Batch}
		return cli.Plan{Study: cfg.Study(), N: cfg.N, Run: r.Run, Describe: fmt.Sprintf("perturbation study of %s (model %s)", models.Label(dir), cfg.Model)}, nil
	}
	return sf.Main(ctx, c, *model, cli.Study{Name: "perturb", Plan: plan,
		Decode: study.Decoder[perturbstudy.Config](), Report: study.Reporter(perturbstudy.Decode, perturbstudy.Report)})
}
