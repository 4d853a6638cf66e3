// Package sample is the sample command, run as `clockwork sample` (cmd/clockwork)
// or `go run ./experiments/sample`; the command's documentation is in
// experiments/sample.
package sample

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/plots"
)

// Run runs the sample command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status.
func Run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	cli.ExitOnSignal() // the work does not stop at a safe point: a signal ends it
	return run(args, stdout, stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	c := cli.New("sample", "draw samples of a model (or of Clockwork on it) to an .npz file and a PNG grid",
		[]string{"sample -steps 20 -guidance 2 -n 100", "sample -model DIR -steps 8 -adaptor identity -clock 2",
			"sample -model models/text -prompt \"a thick seven on the left\" -guidance 3 -n 16"}, stdout, stderr)
	fs := c.Flags
	var cw cli.ClockworkFlags
	o := diffusion.Options{}
	model := fs.String("model", "", "model directory (default: the shipped teacher)")
	fs.StringVar(&o.Sampler, "sampler", "dpmpp2m", "sampler: "+strings.Join(diffusion.SamplerNames(), ", "))
	fs.IntVar(&o.Steps, "steps", 20, "sampling steps")
	fs.StringVar(&o.Spacing, "spacing", "", "timestep spacing: leading, trailing or linspace (default: the model's scheduler_config.json timestep_spacing, else the sampler's)")
	fs.Float64Var(&o.Eta, "eta", 0, "DDIM eta")
	fs.Uint64Var(&o.Seed, "seed", 0, "noise seed")
	guidance := fs.Float64("guidance", 1, "classifier-free guidance scale (1: none; default: the model's sampling_defaults.json, if any)")
	n := fs.Int("n", 64, "number of samples")
	batch := fs.Int("batch", 64, "batch size")
	labels := fs.String("labels", "cycle", "class labels: cycle, a class, or a comma-separated list (none for unconditional models)")
	var pf cli.PromptFlags
	pf.Register(fs, "")
	cw.Register(fs)
	out := fs.String("out", "", "output .npz (samples, labels); default: runs/samples/<model>-<sampler><steps>.npz")
	grid := fs.String("grid", "-", "output PNG grid (default: beside -out; empty: none)")
	cols := fs.Int("cols", 10, "grid columns")
	if code, ok := c.Parse(args, false); !ok {
		return code
	}
	if err := cw.Check(); err != nil {
		return c.Usage("%v", err)
	}
	if *grid != "" && *cols <= 0 {
		return c.Fail(fmt.Errorf("-cols %d: want a positive number of grid columns", *cols))
	}
	dir, err := models.Resolve(*model)
	if err != nil {
		return c.Fail(err)
	}
	if err := c.ModelDefaults(dir, guidance, &o.Steps); err != nil {
		return c.Fail(err)
	}
	if err := cli.Outputs(out, grid, "samples", cli.SampleName(dir, o.Sampler, o.Steps, *guidance, &cw), ".npz"); err != nil {
		return c.Fail(err)
	}
	prompts, err := pf.Prompts()
	if err != nil {
		return c.Usage("%v", err)
	}
	s, err := cli.LoadSampling(dir, *guidance, *n, *batch, o.Seed, *labels, prompts, 0, "")
	if err != nil {
		return c.Fail(err)
	}
	_, d, _, err := cw.Denoisers(s.Model, dir, s.Guidance, o.Sampler, o.Steps)
	if err != nil {
		return c.Fail(err)
	}
	o.Cond = s.Setup.Cond
	chw, lab := s.Setup.Shape, s.Setup.Cond.Labels
	prog := cli.NewProgress(stderr, *n, "sample")
	start := time.Now()
	x, err := diffusion.SampleMany(d, s.Noise, chw, *n, *batch, o, func(done int) { prog.Set(done, "") })
	prog.Finish()
	if err != nil {
		return c.Fail(err)
	}
	xs := diffusion.ClipImages(x.Data().([]float32))
	arrays, order := map[string]npzio.Array{"samples": npzio.Float32(xs, x.Shape().Clone()...)}, []string{"samples"}
	if lab != nil {
		arrays["labels"], order = npzio.Int64(lab, len(lab)), append(order, "labels")
	}
	if s.Prompts != nil {
		// The prompts' token ids, padded as the text encoder read them.
		ids, err := s.Text.IDs(s.Prompts)
		if err != nil {
			return c.Fail(err)
		}
		shape := []int{len(s.Prompts), s.Text.Tokens()}
		if k := s.Text.Clauses; k > 1 {
			shape = []int{len(s.Prompts), k, s.Text.Tokens() / k} // clause by clause
		}
		arrays["input_ids"], order = npzio.Int64(ids, shape...), append(order, "input_ids")
	}
	if err := npzio.Write(*out, order, arrays); err != nil {
		return c.Fail(err)
	}
	if *grid != "" {
		if err := plots.SaveGridPNG(*grid, xs, *n, chw[0], chw[1], chw[2], *cols, 2); err != nil {
			return c.Fail(err)
		}
	}
	el := time.Since(start)
	c.Printf("%d samples (%s, %d steps, guidance %g) in %s (%.1f ms/sample); wrote %s\n", *n, o.Sampler, o.Steps, *guidance,
		el.Round(time.Millisecond), float64(el.Milliseconds())/float64(*n), strings.Join(cli.Split(*out+","+*grid), " and "))
	return 0
}
