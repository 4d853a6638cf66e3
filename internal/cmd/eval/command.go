// Package eval is the eval command, run as `clockwork eval` (cmd/clockwork)
// or `go run ./experiments/eval`; the command's documentation is in
// experiments/eval.
package eval

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/plots"
)

// Run runs the eval command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status.
func Run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	cli.ExitOnSignal() // the work does not stop at a safe point: a signal ends it
	return run(args, stdout, stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	c := cli.New("eval", "measure a model's samples (FID-MNIST, KID, accuracy, FLOPs, time), or Clockwork's against the plain model",
		[]string{"eval -steps 8                                   # the shipped teacher", "eval -model DIR -steps 8 -adaptor identity -clock 2",
			"eval -steps 8 -adaptor runs/adaptors/FP/resnet-dpmpp2m8-clock2", "eval -real test -reference train             # the floor: real images",
			"eval -real train -data captions              # the captioned digits' floor"}, stdout, stderr)
	fs := c.Flags
	var cw cli.ClockworkFlags
	var q metrics.QualityOptions
	m := evaluate.Method{}
	model := fs.String("model", "", "model directory (default: the shipped teacher)")
	real := fs.String("real", "", "measure real images of this split (train or test; val for -data captions) instead of a model")
	fs.StringVar(&m.Sampler, "sampler", "dpmpp2m", fmt.Sprintf("sampler: %s", strings.Join(diffusion.SamplerNames(), ", ")))
	fs.IntVar(&m.Steps, "steps", 20, "sampling steps")
	fs.StringVar(&m.Spacing, "spacing", "", "timestep spacing (default: the model's scheduler_config.json timestep_spacing, else the sampler's)")
	fs.Float64Var(&m.Eta, "eta", 0, "DDIM eta")
	guidance := fs.Float64("guidance", 1, "classifier-free guidance scale (1: none; default: the model's sampling_defaults.json, if any)")
	n := fs.Int("n", 1000, "samples")
	batch := fs.Int("batch", 100, "sampling batch size")
	seed := fs.Uint64("seed", 0, "noise seed")
	fs.StringVar(&q.Reference, "reference", "test", "split to compare with: test or train, or val for the captioned digits (where a text model's guidance is chosen; its prompts then come from val too)")
	fs.StringVar(&q.Data, "data", "", "the images -reference and -real name: mnist (default), or captions (the default for a text-conditioned model)")
	fs.IntVar(&q.Bootstrap, "bootstrap", 100, "bootstrap resamples for the intervals")
	var pf cli.PromptFlags
	pf.Register(fs, " (default: the captions of the captioned digits' -reference split)")
	cw.Register(fs)
	toTeacher := fs.Bool("to-teacher", true, "with -adaptor: also draw the plain model's samples from the same noise and labels and report the L2 distance and PSNR to them")
	rounds := fs.Int("time-rounds", 11, "with -adaptor: time the plain model and Clockwork on one batch in this many alternating rounds (0: skip)")
	out := fs.String("out", "", "JSON report (default: runs/eval/<model>-<sampler><steps>.json)")
	grid := fs.String("grid", "-", "sample grid PNG (default: beside -out; empty: none)")
	if code, ok := c.Parse(args, false); !ok {
		return code
	}
	if err := cw.Check(); err != nil {
		return c.Usage("%v", err)
	}
	modelFlags := c.GivenExcept("real", "n", "seed", "reference", "data", "bootstrap", "out", "grid")
	switch {
	case *real != "" && len(modelFlags) > 0:
		return c.Usage("-real measures real images: %s do not apply to them (they are a model's)", strings.Join(modelFlags, ", "))
	case *rounds < 0:
		return c.Usage("-time-rounds %d: want 0 (no paired timing) or more", *rounds)
	case q.Reference != "test" && q.Reference != "train" && q.Reference != "val":
		return c.Usage("reference %q is not test, train or val", q.Reference)
	case q.Reference == "val" && (*real != "" || q.Data != "") && q.Data != captions.DataKind:
		return c.Usage("-reference val: only the captioned digits have a validation split (-data captions)")
	case *n < 2:
		return c.Fail(fmt.Errorf("-n %d: want at least 2 samples", *n))
	case q.Bootstrap != 0 && q.Bootstrap < 2:
		return c.Fail(fmt.Errorf("-bootstrap %d: want at least 2 resamples", q.Bootstrap))
	}
	dir, err := models.Resolve(*model)
	if err != nil {
		return c.Fail(err)
	}
	name := cmp.Or(q.Data, "mnist") + "-" + *real
	if *real == "" {
		if err := c.ModelDefaults(dir, guidance, &m.Steps); err != nil {
			return c.Fail(err)
		}
		name = cli.SampleName(dir, m.Sampler, m.Steps, *guidance, &cw)
	}
	if err := cli.Outputs(out, grid, "eval", name, ".json"); err != nil {
		return c.Fail(err)
	}
	clf, err := metrics.MNISTClassifier()
	if err != nil {
		return c.Fail(err)
	}
	var cmp evaluate.Comparison
	var x []float32
	if *real != "" {
		cmp.Report, x, err = evaluate.Real(clf, *real, *n, *seed, q)
	} else {
		var prompts []string
		if prompts, err = pf.Or(dir, *n, q.Reference); err == nil && q.Reference == "val" && prompts == nil && q.Data != captions.DataKind {
			return c.Usage("-reference val: only the captioned digits have a validation split; this model is not text-conditioned (give -data captions to compare its samples with them)")
		}
		if err == nil {
			cmp, x, err = sampled(c, clf, dir, m, &cw, *guidance, *n, *batch, *seed, prompts, q, *toTeacher, *rounds)
		}
	}
	if err != nil {
		return c.Fail(err)
	}
	if err := c.WriteStamped(*out, cmp); err != nil {
		return c.Fail(err)
	}
	if *grid != "" {
		if err := plots.SaveGridPNG(*grid, x, min(*n, 100), 1, 32, 32, 10, 2); err != nil {
			return c.Fail(err)
		}
	}
	cmp.WriteTable(stdout)
	c.Printf("wrote %s\n", strings.Join(cli.Split(*out+","+*grid), " and "))
	return 0
}

// sampled draws the model's samples (and, with an adaptor, compares them
// with the plain model's) and returns the report and the samples.
func sampled(c *cli.Command, clf *metrics.Classifier, dir string, m evaluate.Method, cw *cli.ClockworkFlags, guidance float64, n, batch int, seed uint64,
	prompts []string, q metrics.QualityOptions, toTeacher bool, rounds int) (evaluate.Comparison, []float32, error) {
	s, err := cli.LoadSampling(dir, guidance, n, batch, seed, "cycle", prompts, 2*4*metrics.FeatureDim+4*10+8, " and their features")
	if err != nil {
		return evaluate.Comparison{}, nil, err
	}
	if err := evaluate.CheckMNIST(s.Model.Config); err != nil {
		return evaluate.Comparison{}, nil, fmt.Errorf("%s: %w", dir, err)
	}
	plain, method, desc, err := cw.Denoisers(s.Model, models.Label(dir), s.Guidance, m.Sampler, m.Steps)
	if err != nil {
		return evaluate.Comparison{}, nil, err
	}
	ref := m
	ref.Name, ref.Denoiser = models.Label(dir), plain
	m.Name, m.Denoiser = desc, method
	prog := cli.NewProgress(c.Stderr, n, "sample")
	s.Setup.Progress = func(done, _ int) { prog.Set(done, "") }
	o := evaluate.CompareOptions{Quality: q, Guidance: guidance, Bootstrap: q.Bootstrap}
	if cw.Adaptor != "" {
		o.Distances, o.Rounds = toTeacher, rounds
		if rounds > 0 {
			fmt.Fprintf(c.Stderr, "then the plain model's samples and %d alternating timed rounds of a batch of %d\n", rounds, min(batch, n))
		}
	}
	cmp, x, err := evaluate.Compare(clf, ref, m, s.Setup, o)
	prog.Finish()
	return cmp, x, err
}
