// Command perturb runs the perturbation-robustness study of Clockwork
// Diffusion's Section 3: a feature map at one tap of the U-Net is mixed
// with noise of its own statistics from step k on, and the final samples
// are compared with their unperturbed twins (same noise, same labels): L2
// distance, class flips, high-frequency share, FID-MNIST and KID per cell.
// Cells are appended to DIR/results.jsonl as they finish, so an interrupted
// study resumes; the figures, results.csv and summary.md come at the end
// (and from -merge).
package main

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/perturbstudy"
	"github.com/clockwork-go/clockwork/study"
)

func main() { cli.Main(run) }

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
	if sf.Merging {
		return sf.Merge(c, "perturb", func(raw json.RawMessage) (study.Study, error) {
			var cfg perturbstudy.Config
			err := json.Unmarshal(raw, &cfg)
			return cfg.Study(), err
		}, nil, func(st study.Study, recs []study.Record) error {
			return report(sf.Out, st.Config.(perturbstudy.Config), recs)
		})
	}
	if c.Flags.NArg() > 0 {
		return c.Usage("unexpected argument %q", c.Flags.Arg(0))
	}
	if err := sf.Check(); err != nil {
		return c.Usage("%v", err)
	}
	dir, err := models.Resolve(*model)
	if err != nil {
		return c.Fail(err)
	}
	m, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		return c.Fail(err)
	}
	shape, err := m.Config.SampleShape()
	if err != nil {
		return c.Fail(err)
	}
	infos := m.TapInfos(shape[1], shape[2])
	cfg := perturbstudy.QuickConfig(infos)
	if sf.Full {
		cfg = perturbstudy.FullConfig(infos)
	}
	cfg.Model, cfg.Steps, cfg.Seed = m.Fingerprint(), *steps, sf.Seed
	if sf.N > 0 {
		cfg.N, cfg.Keep = sf.N, min(cfg.Keep, sf.N)
	}
	if err := cfg.Narrow(*taps, *ks, *as, *samplers, infos); err != nil {
		return c.Usage("%v", err)
	}
	if err := cfg.Validate(m.Taps()); err != nil {
		return c.Usage("%v", err)
	}
	if err := sf.CheckMemory(m.Config, cfg.N); err != nil {
		return c.Usage("%v", err)
	}
	clf, err := metrics.MNISTClassifier()
	if err != nil {
		return c.Fail(err)
	}
	st := cfg.Study()
	r := &perturbstudy.Runner{Config: cfg, Model: m, Noise: noise, Classifier: clf, Dir: sf.Out, Batch: sf.Batch}
	c.Printf("perturbation study of %s (model %s): %d cells of %d samples, shard %s, into %s\n", dir, cfg.Model, len(st.Cells), cfg.N, sf.Sharded(), sf.Out)
	start := time.Now()
	recs, code, ok := sf.Run(ctx, c, st, r.Run)
	if !ok {
		return code
	}
	if err := report(sf.Out, cfg, recs); err != nil {
		return c.Fail(err)
	}
	c.Printf("done in %s: %d of %d cells in %s; summary in %s\n", time.Since(start).Round(time.Second), len(recs), len(st.Cells),
		filepath.Join(sf.Out, study.ResultsFile), filepath.Join(sf.Out, "summary.md"))
	sf.Shards(c)
	return 0
}

func report(dir string, cfg perturbstudy.Config, recs []study.Record) error {
	res, err := perturbstudy.Decode(cfg, recs)
	if err == nil {
		_, err = perturbstudy.Report(dir, res)
	}
	return err
}
