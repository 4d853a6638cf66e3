// Command sample draws samples from a model directory:
//
//	go run ./experiments/sample -model runs/mnist/model -sampler dpmpp2m -steps 20 -guidance 2 -n 100
//
// It writes the samples (N,C,H,W float32 in [−1, 1]) and labels to an .npz
// file (by default under runs/samples/) and a PNG grid beside it. Samples
// are clipped to [−1, 1] as they are stored (diffusion.ClipImages):
// DPM-Solver++ and Euler can leave that range, DDPM and DDIM cannot. A
// sample depends only on -seed and its index, not on -batch. The model
// directory must hold scheduler_config.json, the schedule it was trained
// with.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/plots"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model directory (config.json, model.npz, scheduler_config.json)")
	sampler := fs.String("sampler", "dpmpp2m", "ddpm, ddim, dpmpp2m or euler")
	steps := fs.Int("steps", 20, "sampling steps")
	spacing := fs.String("spacing", "", "timestep spacing: leading, trailing or linspace (default: the sampler's)")
	eta := fs.Float64("eta", 0, "DDIM eta")
	guidance := fs.Float64("guidance", 1, "classifier-free guidance scale (1: none)")
	n := fs.Int("n", 64, "number of samples")
	batch := fs.Int("batch", 64, "batch size")
	seed := fs.Uint64("seed", 0, "noise seed")
	labels := fs.String("labels", "cycle", "class labels: cycle, a class, or a comma-separated list (none for unconditional models)")
	adaptor := fs.String("adaptor", "", "Clockwork: an adaptor directory, or identity (default: none, the plain U-Net)")
	clock := fs.Int("clock", 0, "Clockwork schedule: clock N (default: the adaptor's own, clock 2 for identity)")
	at := fs.String("at", "", "Clockwork schedule: explicit 1-based adaptor steps, e.g. 2,4,6,8")
	depth := fs.Int("depth", 1, "cut depth of the identity adaptor")
	force := fs.Bool("force", false, "use an adaptor distilled for another teacher or operating point")
	out := fs.String("out", "", "output .npz (samples, labels); default: runs/samples/<model>-<sampler><steps>.npz")
	grid := fs.String("grid", "-", "output PNG grid (default: beside -out; empty: none)")
	cols := fs.Int("cols", 10, "grid columns")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sample: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *model == "" {
		fmt.Fprintln(stderr, "sample: -model is required")
		fs.Usage()
		return 2
	}
	if *adaptor == "" && (*clock != 0 || *at != "" || *force) {
		fmt.Fprintln(stderr, "sample: -clock, -at and -force go with -adaptor")
		return 2
	}
	if *clock != 0 && *at != "" {
		fmt.Fprintln(stderr, "sample: give -clock or -at, not both")
		return 2
	}
	schedule := *at
	if *clock != 0 {
		schedule = fmt.Sprintf("clock:%d", *clock)
	}
	if *out == "" {
		*out = filepath.Join("runs", "samples", fmt.Sprintf("%s-%s%d.npz", filepath.Base(filepath.Clean(*model)), *sampler, *steps))
	}
	if *grid == "-" {
		*grid = strings.TrimSuffix(*out, filepath.Ext(*out)) + ".png"
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "sample:", err); return 1 }
	// Every flag, and the memory the sizes imply, is checked before
	// anything is sampled or written.
	switch {
	case *n <= 0:
		return fail(fmt.Errorf("-n %d: want a positive number of samples", *n))
	case *batch <= 0:
		return fail(fmt.Errorf("-batch %d: want a positive number of samples per batch", *batch))
	case *grid != "" && *cols <= 0:
		return fail(fmt.Errorf("-cols %d: want a positive number of grid columns", *cols))
	}
	if err := fsutil.CheckOutFile("-out", *out); err != nil {
		return fail(err)
	}
	if *grid != "" {
		if err := fsutil.CheckOutFile("-grid", *grid); err != nil {
			return fail(err)
		}
	}
	m, s, err := diffusion.LoadModel(*model)
	if err != nil {
		return fail(err)
	}
	h, w, err := m.Config.SampleHW()
	if err == nil {
		err = m.Config.CheckSize(h, w)
	}
	if err != nil {
		return fail(fmt.Errorf("-model %s: sample_size: %w", *model, err))
	}
	chw := []int{m.Config.InChannels, h, w}
	need, err := diffusion.SampleMemory(m.Config, *n, *batch, chw, *guidance != 1)
	if err != nil {
		return fail(err)
	}
	if err := sysmem.Check(need, fmt.Sprintf("-n %d with -batch %d (samples of %d×%d×%d)", *n, *batch, chw[0], h, w)); err != nil {
		return fail(err)
	}
	k := m.Config.NumClasses()
	if k == 0 && *labels == "cycle" {
		*labels = ""
	}
	lab, err := diffusion.ParseLabels(*labels, *n, k)
	if err != nil {
		return fail(err)
	}
	var base diffusion.Denoiser = &diffusion.ModelDenoiser{Model: m}
	if *adaptor != "" {
		cw, _, err := distill.Open(m, *adaptor, *depth, *sampler, *steps, schedule, *force)
		if err != nil {
			return fail(err)
		}
		base = cw
	}
	d, err := diffusion.Guide(base, k, *guidance)
	if err != nil {
		return fail(err)
	}
	prog := cli.NewProgress(stderr, *n, "sample")
	start := time.Now()
	x, err := diffusion.SampleMany(d, s, chw, *n, *batch, lab, diffusion.Options{
		Sampler: *sampler, Steps: *steps, Spacing: *spacing, Eta: *eta, Seed: *seed,
	}, func(done int) { prog.Set(done, "") })
	prog.Finish()
	if err != nil {
		return fail(err)
	}
	diffusion.ClipImages(x.Data().([]float32))
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fail(err)
	}
	arrays := map[string]npzio.Array{"samples": npzio.Float32(x.Data().([]float32), x.Shape().Clone()...)}
	order := []string{"samples"}
	if lab != nil {
		arrays["labels"] = npzio.Int64(lab, len(lab))
		order = append(order, "labels")
	}
	if err := npzio.Write(*out, order, arrays); err != nil {
		return fail(err)
	}
	if *grid != "" {
		if err := plots.SaveGridPNG(*grid, x.Data().([]float32), *n, chw[0], chw[1], chw[2], *cols, 2); err != nil {
			return fail(err)
		}
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "%d samples (%s, %d steps, guidance %g) in %s (%.1f ms/sample); wrote %s", *n, *sampler, *steps, *guidance, el.Round(time.Millisecond), float64(el.Milliseconds())/float64(*n), *out)
	if *grid != "" {
		fmt.Fprintf(stdout, " and %s", *grid)
	}
	fmt.Fprintln(stdout)
	return 0
}
