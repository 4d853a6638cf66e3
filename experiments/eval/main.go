// Command eval measures an MNIST model directory: it samples -n images and
// reports FID-MNIST and KID against the MNIST test set, the class accuracy of
// class-conditional samples (by the shipped classifier), the analytic GFLOPs
// per sample and the wall time per sample, each quality figure with a 95%
// interval. It writes a JSON report and a sample grid beside it (by default
// under runs/eval/), and prints a table:
//
//	go run ./experiments/eval -model runs/mnist/model -sampler dpmpp2m -steps 20
//	go run ./experiments/eval -real test -reference train    # the floor: real images
//	go run ./experiments/eval -model DIR -steps 8 -adaptor ADAPTOR_DIR   # Clockwork with a distilled adaptor
//	go run ./experiments/eval -model DIR -steps 8 -adaptor identity -clock 2
//
// The quality figures measure the samples as the sampler leaves them,
// unclipped (DPM-Solver++ and Euler can leave [−1, 1]; the sample command
// clips what it stores); the grid, an image, is clipped.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/plots"
	"github.com/clockwork-go/clockwork/unet"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o evaluate.Options
	model := fs.String("model", "", "model directory")
	real := fs.String("real", "", "evaluate real MNIST images of this split (train or test) instead of a model")
	fs.StringVar(&o.Sampler, "sampler", "dpmpp2m", "ddpm, ddim, dpmpp2m or euler")
	fs.IntVar(&o.Steps, "steps", 20, "sampling steps")
	fs.StringVar(&o.Spacing, "spacing", "", "timestep spacing (default: the sampler's)")
	fs.Float64Var(&o.Eta, "eta", 0, "DDIM eta")
	guidance := fs.Float64("guidance", 1, "classifier-free guidance scale (1: none)")
	fs.IntVar(&o.N, "n", 1000, "samples")
	fs.IntVar(&o.Batch, "batch", 100, "sampling batch size")
	fs.Uint64Var(&o.Seed, "seed", 0, "noise seed")
	fs.StringVar(&o.Quality.Reference, "reference", "test", "MNIST split to compare with: test or train")
	fs.IntVar(&o.Quality.Bootstrap, "bootstrap", 100, "bootstrap resamples for the intervals")
	adaptor := fs.String("adaptor", "", "Clockwork: an adaptor directory, or identity (default: none, the plain U-Net)")
	clock := fs.Int("clock", 0, "Clockwork schedule: clock N (default: the adaptor's own, clock 2 for identity)")
	at := fs.String("at", "", "Clockwork schedule: explicit 1-based adaptor steps, e.g. 2,4,6,8")
	depth := fs.Int("depth", 1, "cut depth of the identity adaptor")
	force := fs.Bool("force", false, "use an adaptor distilled for another teacher or operating point")
	toTeacher := fs.Bool("to-teacher", true, "with -adaptor: also draw the plain model's samples from the same noise and labels and report the L2 distance and PSNR to them")
	timeRounds := fs.Int("time-rounds", 11, "with -adaptor: time the plain model and Clockwork on one batch in this many alternating rounds and report the wall-time speed-up against the FLOPs ratio, with a confidence interval of its median from 6 rounds on (0: skip)")
	out := fs.String("out", "", "JSON report (default: runs/eval/<model>-<sampler><steps>.json)")
	grid := fs.String("grid", "-", "sample grid PNG (default: beside -out; empty: none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "eval: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if (*model == "") == (*real == "") {
		fmt.Fprintln(stderr, "eval: give exactly one of -model and -real")
		fs.Usage()
		return 2
	}
	if *adaptor == "" && (*clock != 0 || *at != "" || *force) {
		fmt.Fprintln(stderr, "eval: -clock, -at and -force go with -adaptor")
		return 2
	}
	if *clock != 0 && *at != "" {
		fmt.Fprintln(stderr, "eval: give -clock or -at, not both")
		return 2
	}
	if *timeRounds < 0 {
		fmt.Fprintf(stderr, "eval: -time-rounds %d: want 0 (no paired timing) or more\n", *timeRounds)
		return 2
	}
	schedule := *at
	if *clock != 0 {
		schedule = fmt.Sprintf("clock:%d", *clock)
	}
	if o.Quality.Reference != "test" && o.Quality.Reference != "train" {
		fmt.Fprintf(stderr, "eval: reference %q is not test or train\n", o.Quality.Reference)
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "eval:", err); return 1 }
	if o.N < 2 {
		return fail(fmt.Errorf("-n %d: want at least 2 samples", o.N))
	}
	if o.Batch < 1 {
		return fail(fmt.Errorf("-batch %d: want a positive number of samples per batch", o.Batch))
	}
	if o.Quality.Bootstrap != 0 && o.Quality.Bootstrap < 2 {
		return fail(fmt.Errorf("-bootstrap %d: want at least 2 resamples", o.Quality.Bootstrap))
	}
	if *out == "" {
		name := "mnist-" + *real
		if *model != "" {
			name = fmt.Sprintf("%s-%s%d", filepath.Base(filepath.Clean(*model)), o.Sampler, o.Steps)
			if *guidance != 1 {
				name += fmt.Sprintf("-g%g", *guidance)
			}
			if *adaptor != "" {
				name += "-" + filepath.Base(filepath.Clean(*adaptor))
				if schedule != "" {
					name += "-" + strings.NewReplacer(":", "", ",", "_").Replace(schedule)
				}
			}
		}
		*out = filepath.Join("runs", "eval", name+".json")
	}
	if *grid == "-" {
		*grid = strings.TrimSuffix(*out, filepath.Ext(*out)) + ".png"
	}
	if err := fsutil.CheckOutFile("-out", *out); err != nil {
		return fail(err)
	}
	if *grid != "" {
		if err := fsutil.CheckOutFile("-grid", *grid); err != nil {
			return fail(err)
		}
	}
	c, err := metrics.MNISTClassifier()
	if err != nil {
		return fail(err)
	}
	var rep report
	var x []float32
	if *real != "" {
		d, err := datasets.MNIST(*real, "", true)
		if err != nil {
			return fail(err)
		}
		if o.N > d.Len() {
			return fail(fmt.Errorf("-n %d is larger than the %d images of mnist-%s", o.N, d.Len(), *real))
		}
		// A seeded random subset: MNIST's test set is ordered (its first
		// half comes from a different writer population than its second).
		idx := rand.New(rand.NewPCG(o.Seed, 0x5e7)).Perm(d.Len())[:o.N]
		x = make([]float32, o.N*32*32)
		labels := make([]int64, o.N)
		d.Batch(idx, x, labels)
		q, err := metrics.MeasureQuality(c, x, o.N, labels, o.Quality)
		if err != nil {
			return fail(err)
		}
		rep.Report = evaluate.Report{Model: "mnist-" + *real + " (real images, random subset)", N: o.N, Seed: o.Seed, Reference: "mnist-" + o.Quality.Reference, Quality: q}
	} else {
		m, sched, err := diffusion.LoadModel(*model)
		if err != nil {
			return fail(err)
		}
		if err := evaluate.CheckMNIST(m.Config); err != nil {
			return fail(fmt.Errorf("%s: %w", *model, err))
		}
		// The samples, their features and the sampling itself.
		need, err := diffusion.SampleMemory(m.Config, o.N, o.Batch, []int{1, 32, 32}, *guidance != 1)
		if err != nil {
			return fail(err)
		}
		need += float64(o.N) * (2*4*metrics.FeatureDim + 4*10 + 8)
		if err := sysmem.Check(need, fmt.Sprintf("-n %d with -batch %d (samples of 1×32×32 and their features)", o.N, o.Batch)); err != nil {
			return fail(err)
		}
		k := m.Config.NumClasses()
		if o.Labels, err = evaluate.LabelsFor(o.N, k); err != nil {
			return fail(err)
		}
		var d diffusion.Denoiser = &diffusion.ModelDenoiser{Model: m}
		o.Name = *model
		if *adaptor != "" {
			cw, man, err := distill.Open(m, *adaptor, *depth, o.Sampler, o.Steps, schedule, *force)
			if err != nil {
				return fail(err)
			}
			d = cw
			o.Name = fmt.Sprintf("%s + clockwork %s adaptor (%s), schedule %s", *model, man.Spec.Kind, *adaptor, cw.Schedule)
		}
		if d, err = diffusion.Guide(d, k, *guidance); err != nil {
			return fail(err)
		}
		o.Guidance = *guidance
		prog := cli.NewProgress(stderr, o.N, "sample")
		o.Progress = func(done, _ int) { prog.Set(done, "") }
		var s evaluate.Samples
		rep.Report, s, err = evaluate.Run(c, d, sched, o)
		prog.Finish()
		if err != nil {
			return fail(err)
		}
		x = s.X
		if *adaptor != "" && *toTeacher {
			if rep.L2ToTeacher, rep.PSNRToTeacher, err = toPlain(m, k, *guidance, sched, o, x, stderr); err != nil {
				return fail(err)
			}
		}
		if *adaptor != "" && *timeRounds > 0 {
			if err := timePaired(&rep, m, k, *guidance, d, sched, o, *timeRounds, stderr); err != nil {
				return fail(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fail(err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fail(fmt.Errorf("report: %w", err))
	}
	if err := fsutil.WriteAtomic(*out, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
		return fail(err)
	}
	if *grid != "" {
		if err := plots.SaveGridPNG(*grid, x, min(o.N, 100), 1, 32, 32, 10, 2); err != nil {
			return fail(err)
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", rep.Model)
	if rep.Sampler != "" {
		fmt.Fprintf(tw, "sampler\t%s, %d steps, guidance %g, seed %d\n", rep.Sampler, rep.Steps, rep.Guidance, rep.Seed)
	}
	fmt.Fprintf(tw, "samples\t%d (reference %s)\n", rep.N, rep.Reference)
	fmt.Fprintf(tw, "FID-MNIST\t%.3f  [%.3f, %.3f]\n", rep.FID.Value, rep.FID.Lo, rep.FID.Hi)
	fmt.Fprintf(tw, "KID\t%.3f  [%.3f, %.3f]\n", rep.KID.Value, rep.KID.Lo, rep.KID.Hi)
	if rep.Accuracy != nil {
		fmt.Fprintf(tw, "class accuracy\t%.4f  [%.4f, %.4f]\n", rep.Accuracy.Value, rep.Accuracy.Lo, rep.Accuracy.Hi)
	}
	if rep.Sampler != "" {
		fmt.Fprintf(tw, "GFLOPs/sample\t%.3f\n", rep.GFLOPsPerSample)
		fmt.Fprintf(tw, "ms/sample\t%.2f\n", rep.MsPerSample)
	}
	if p := rep.Paired; p != nil {
		fmt.Fprintf(tw, "paired wall time\tplain %.2f, Clockwork %.2f ms/sample (median of %d alternating rounds of a batch of %d)\n", p.MsA, p.MsB, p.Rounds, p.Batch)
		flops := rep.PlainGFLOPs / rep.GFLOPsPerSample
		fmt.Fprintf(tw, "speed-up\twall %.3f× [%.3f, %.3f] against FLOPs %.3f×: %.0f%% of the FLOPs ratio\n",
			p.Speedup.Value, p.Speedup.Lo, p.Speedup.Hi, flops, 100*p.Speedup.Value/flops)
		if ci := p.MedianCI; ci.Value > 0 {
			fmt.Fprintf(tw, "median's %.0f%% CI\twall %.3f× to %.3f×: %.0f%% to %.0f%% of the FLOPs ratio\n",
				100*ci.Value, ci.Lo, ci.Hi, 100*ci.Lo/flops, 100*ci.Hi/flops)
		}
	}
	if rep.L2ToTeacher != nil {
		fmt.Fprintf(tw, "L2 to the plain model\t%.3f  [%.3f, %.3f]\n", rep.L2ToTeacher.Value, rep.L2ToTeacher.Lo, rep.L2ToTeacher.Hi)
		fmt.Fprintf(tw, "PSNR to the plain model\t%.2f dB  [%.2f, %.2f]\n", rep.PSNRToTeacher.Value, rep.PSNRToTeacher.Lo, rep.PSNRToTeacher.Hi)
	}
	tw.Flush()
	where := *out
	if *grid != "" {
		where += " and " + *grid
	}
	fmt.Fprintf(stdout, "wrote %s\n", where)
	return 0
}

// report is an evaluation's report, with, for a Clockwork run, the distance
// of its samples to the plain model's from the same noise and labels.
type report struct {
	evaluate.Report
	L2ToTeacher   *metrics.Interval `json:"l2_to_teacher,omitempty"`
	PSNRToTeacher *metrics.Interval `json:"psnr_to_teacher,omitempty"`
	// Paired times the plain model (A) against Clockwork (B) on one batch
	// in alternating rounds; PlainGFLOPs is the plain model's cost per
	// sample at the same sampler and steps.
	Paired      *evaluate.PairedTiming `json:"paired_timing,omitempty"`
	PlainGFLOPs float64                `json:"plain_gflops_per_sample,omitempty"`
}

// timePaired times the plain model against the Clockwork denoiser cw on
// one batch of the run's options in alternating rounds and counts the
// plain model's FLOPs per sample, into rep.
func timePaired(rep *report, m *unet.Model, k int, guidance float64, cw diffusion.Denoiser, sched *diffusion.Schedule, o evaluate.Options, rounds int, stderr io.Writer) error {
	plain, err := diffusion.Guide(&diffusion.ModelDenoiser{Model: m}, k, guidance)
	if err != nil {
		return err
	}
	b := min(o.Batch, o.N)
	var labels []int64
	if o.Labels != nil {
		labels = o.Labels[:b]
	}
	fmt.Fprintf(stderr, "timing the plain model against Clockwork: %d alternating rounds of a batch of %d\n", rounds, b)
	before, _ := diffusion.CountedFLOPs(plain)
	p, err := evaluate.TimePaired(plain, cw, sched, evaluate.PairOptions{Sampler: o.Sampler, Steps: o.Steps, Spacing: o.Spacing,
		Eta: o.Eta, Seed: o.Seed, Batch: b, Labels: labels, Rounds: rounds})
	if err != nil {
		return err
	}
	after, _ := diffusion.CountedFLOPs(plain)
	rep.Paired = &p
	rep.PlainGFLOPs = float64(after-before) / float64(b*(rounds+1)) / 1e9
	return nil
}

// toPlain draws the plain model's samples with the options of the Clockwork
// run (same sampler, steps, seed, labels and guidance) and returns the mean
// L2 distance and PSNR of x to them, with bootstrap 95% intervals.
func toPlain(m *unet.Model, k int, guidance float64, sched *diffusion.Schedule, o evaluate.Options, x []float32, stderr io.Writer) (l2, psnr *metrics.Interval, err error) {
	d, err := diffusion.Guide(&diffusion.ModelDenoiser{Model: m}, k, guidance)
	if err != nil {
		return nil, nil, err
	}
	prog := cli.NewProgress(stderr, o.N, "plain model")
	ref, err := diffusion.SampleMany(d, sched, []int{1, 32, 32}, o.N, o.Batch, o.Labels, diffusion.Options{
		Sampler: o.Sampler, Steps: o.Steps, Spacing: o.Spacing, Eta: o.Eta, Seed: o.Seed},
		func(done int) { prog.Set(done, "") })
	prog.Finish()
	if err != nil {
		return nil, nil, err
	}
	p, err := metrics.PairedDistances(x, ref.Data().([]float32), o.N)
	if err != nil {
		return nil, nil, err
	}
	reps := o.Quality.Bootstrap
	if reps == 0 {
		reps = 100
	}
	a, err := metrics.Mean(p.L2, reps, o.Seed)
	if err != nil {
		return nil, nil, err
	}
	b, err := metrics.Mean(metrics.CapPSNR(p.PSNR), reps, o.Seed)
	if err != nil {
		return nil, nil, err
	}
	return &a, &b, nil
}
