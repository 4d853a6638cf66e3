// Package train is the train command, run as `clockwork train` (cmd/clockwork)
// or `go run ./experiments/train`; the command's documentation is in
// experiments/train.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorgonia.org/tensor"

	_ "github.com/clockwork-go/clockwork/captions" // -data captions
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	_ "github.com/clockwork-go/clockwork/edits" // -data edits
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/plots"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// Run runs the train command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status; ctx's cancellation
// (Ctrl-C) interrupts it as the command documents.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("train", "train a diffusion U-Net (resumable, verified checkpoints; the EMA model as a diffusers-style directory)",
		[]string{"train                                  # class-conditional MNIST, the reference config",
			"train -config mnist_text -data captions -out runs/text   # text-to-image on captioned digits",
			"train -init models/mnist_text -data edits -out runs/edit # an InstructPix2Pix editor from a text model",
			"train -distill-guidance runs/edit/model -data edits -out runs/edit-gd  # its one-pass guidance-distilled student",
			"train -out runs/mnist -resume          # continue after Ctrl-C", "train -out runs/mnist -resume -from 500  # from an earlier checkpoint"}, stdout, stderr)
	fs := c.Flags
	d := diffusion.DefaultTrainConfig()
	tc := &d
	out := fs.String("out", "runs/mnist", "run directory")
	config := fs.String("config", "mnist", "U-Net config: an embedded name, a config.json or a model directory")
	data := fs.String("data", "mnist", "training data (with -resume: the run's own by default): mnist, mnist:DIR, shapes[:N], npz:PATH[:images[:labels[:classes]]], captions[:N] (captioned digits, for a text config), edits[:N][:one] (edit pairs, for an editor: -config mnist_edit, or -init a text model; :one, one-change instructions only, the clauses a chained edit makes), edits:chained:FILE (the edit pairs plus an editor's own first-clause edits as second clauses' sources, written by edit -chain-data)")
	resume := fs.Bool("resume", false, "continue the run in -out from its latest checkpoint (or, when that is missing or incomplete, its newest complete one)")
	from := fs.Int("from", -1, "with -resume: continue from the checkpoint of this step instead of the latest; later checkpoints are discarded")
	force := fs.Bool("force", false, "with -resume: continue even though -data gives other images than the run was trained on")
	quiet := fs.Bool("quiet", false, "no progress display")
	guide := fs.String("distill-guidance", "", "guidance distillation: train a one-pass student of this three-pass editor's two-scale guidance (MoViE Sec. 3.2), on -data edits")
	textScales := fs.String("text-scales", "2,14", "with -distill-guidance: the range the text scale s_T is drawn from")
	imageScales := fs.String("image-scales", "1,3", "with -distill-guidance: the range the image scale s_I is drawn from")
	tc.Register(fs)
	if code, ok := c.Parse(args, false); !ok {
		return code
	}
	if !*resume && (c.Given("from") || *force) {
		return c.Usage("-from and -force go with -resume")
	}
	if *guide == "" && (c.Given("text-scales") || c.Given("image-scales")) {
		return c.Usage("-text-scales and -image-scales go with -distill-guidance")
	}
	if *guide != "" {
		if c.Given("config") || c.Given("init") {
			return c.Usage("-distill-guidance starts from its teacher: -config and -init cannot change it")
		}
		g := &diffusion.GuidanceDistillation{Teacher: *guide}
		for _, r := range []struct {
			flag, v string
			dst     *[2]float64
		}{{"-text-scales", *textScales, &g.TextScale}, {"-image-scales", *imageScales, &g.ImageScale}} {
			if _, err := fmt.Sscanf(r.v, "%g,%g", &r.dst[0], &r.dst[1]); err != nil {
				return c.Usage("%s %q: want LO,HI", r.flag, r.v)
			}
		}
		if err := g.Validate(); err != nil {
			return c.Usage("%v", err)
		}
		tc.Guidance = g
		*config = ""
		// The student learns the teacher's outputs: it takes the
		// teacher's noise schedule and parameterisation.
		if c.Given("prediction") || c.Given("beta-schedule") || c.Given("zero-snr") {
			return c.Usage("-distill-guidance takes its teacher's noise schedule: -prediction, -beta-schedule and -zero-snr cannot change it")
		}
		ts, err := diffusion.LoadScheduleConfig(*guide)
		if err != nil {
			return c.Fail(fmt.Errorf("-distill-guidance: %w", err))
		}
		tc.Schedule = ts
	}
	var scheduleNote string
	if tc.Init != "" && !*resume {
		// A fine-tuned model keeps the noise schedule and parameterisation
		// it was trained with unless a flag changes them (a v-prediction
		// editor fine-tuned as an ε one would silently unlearn itself).
		is, err := diffusion.LoadScheduleConfig(tc.Init)
		if err != nil {
			return c.Fail(fmt.Errorf("-init: %w", err))
		}
		given := tc.Schedule
		tc.Schedule = is
		if c.Given("prediction") {
			tc.Schedule.PredictionType = given.PredictionType
		}
		if c.Given("beta-schedule") {
			tc.Schedule.BetaSchedule = given.BetaSchedule
		}
		if c.Given("zero-snr") {
			tc.Schedule.RescaleBetasZeroSNR = given.RescaleBetasZeroSNR
		}
		if tc.Schedule.PredictionType != is.PredictionType || tc.Schedule.BetaSchedule != is.BetaSchedule || tc.Schedule.RescaleBetasZeroSNR != is.RescaleBetasZeroSNR {
			scheduleNote = fmt.Sprintf("note: %s was trained with %s on the %s schedule (zero terminal SNR %v); this run trains %s on the %s schedule (zero terminal SNR %v)\n",
				tc.Init, is.PredictionType, is.BetaSchedule, is.RescaleBetasZeroSNR, tc.Schedule.PredictionType, tc.Schedule.BetaSchedule, tc.Schedule.RescaleBetasZeroSNR)
		}
	}
	if err := fsutil.CheckOutDir("-out", *out); err != nil {
		return c.Usage("%v", err)
	}
	if *resume {
		if fixed := c.GivenExcept("out", "data", "steps", "quiet", "resume", "from", "force"); len(fixed) > 0 {
			return c.Usage("-resume continues with the checkpoint's settings; %s cannot change them (only -steps can)", strings.Join(fixed, ", "))
		}
		if c.Given("steps") && tc.Steps <= 0 {
			return c.Usage("-steps %d must be positive", tc.Steps)
		}
		if _, err := os.Stat(*out); err != nil {
			return c.Fail(fmt.Errorf("run %s has no checkpoint: %w", *out, err))
		}
	} else if err := tc.Validate(); err != nil {
		return c.Fail(fmt.Errorf("training config: %w", err))
	}
	if info, err := diffusion.RunData(*out, *from); *resume && !c.Given("data") && err == nil && info.Source != "" {
		*data = info.Source // the run's own data
	}
	images, err := datasets.Open(*data, "train")
	if err != nil {
		return c.Fail(err)
	}
	if images.Inputs != nil && !*resume && !c.Given("cond-dropout") && tc.Guidance == nil {
		tc.CondDropout = diffusion.EditDropout
	}
	var m *unet.Model
	var text *textenc.Prompter
	if !*resume {
		if tc.Init != "" && !c.Given("config") {
			*config = ""
		}
		if m, text, err = diffusion.StartModels(*config, images, *tc); err != nil {
			return c.Fail(err)
		}
	}
	release, abandon, err := cli.Claim(*out, "train")
	if err != nil {
		return c.Fail(err)
	}
	defer release()
	var tr *diffusion.Trainer
	if *resume {
		if tr, err = diffusion.Resume(*out, images, diffusion.ResumeOptions{From: *from, ForceData: *force}); err != nil {
			return c.Fail(err)
		}
		for _, n := range tr.Notes {
			c.Printf("note: %s\n", n)
		}
		if c.Given("steps") {
			if tc.Steps < tr.Step {
				return c.Usage("-steps %d: the run in %s is already at step %d; give more steps to continue it", tc.Steps, *out, tr.Step)
			}
			tr.Config.Steps = tc.Steps
		}
		if tr.Step >= tr.Config.Steps {
			c.Printf("nothing to train: %s is already at step %d of %d (give -steps above %d to train on)\n", *out, tr.Step, tr.Config.Steps, tr.Step)
		} else {
			c.Printf("resuming %s at step %d of %d\n", *out, tr.Step, tr.Config.Steps)
		}
	} else {
		if tr, err = diffusion.NewTextTrainer(*out, m, text, images, *tc); err != nil {
			abandon()
			return c.Fail(err)
		}
		if tc.Init != "" {
			*config = "from " + tc.Init
		}
		if g := tc.Guidance; g != nil {
			*config = fmt.Sprintf("a guidance-distilled student of %s (s_T in [%g, %g], s_I in [%g, %g])", g.Teacher, g.TextScale[0], g.TextScale[1], g.ImageScale[0], g.ImageScale[1])
		}
		note := diffusion.TextNote(text)
		if tc.Guidance != nil {
			note = ", with its teacher's text encoder, frozen"
		}
		c.Printf("training %s (%d parameters%s) on %s (%d images) for %d steps of %d into %s\n", *config, m.Params.Count(), note, images.Name, images.Len(), tc.Steps, tc.BatchSize, *out)
		c.Printf("%s", scheduleNote)
	}
	tr.Note = func(n string) { c.Printf("note: %s\n", n) }
	defer c.Provenance(*out)()
	var prog *cli.Progress
	if !*quiet {
		prog = cli.NewProgress(stderr, tr.Config.Steps, "train").From(tr.Step)
		tr.Progress = func(p train.Progress) { prog.Set(p.Done, p.Status) }
	}
	tr.Grid = func(step int, x *tensor.Dense, cols int) error {
		return plots.SaveGridPNG(filepath.Join(*out, "samples", fmt.Sprintf("step-%08d.png", step)), x.Data().([]float32), x.Shape()[0], x.Shape()[1], x.Shape()[2], x.Shape()[3], cols, 2)
	}
	start, startStep := time.Now(), tr.Step
	err = tr.Run(ctx)
	prog.Finish()
	if errors.Is(err, diffusion.ErrInterrupted) {
		return c.Interrupted("checkpoint of step %d written. Continue with: train -out %s -resume", tr.Step, *out)
	}
	if err != nil {
		return c.Fail(err)
	}
	done := fmt.Sprintf("done: %d steps in %s; ", tr.Step, time.Since(start).Round(time.Second))
	if tr.Step == startStep {
		done = ""
	}
	c.Printf("%sEMA model of step %d in %s\n", done, tr.Step, filepath.Join(*out, "model"))
	parent := tr.Config.Init
	if g := tr.Config.Guidance; g != nil {
		parent = g.Teacher
	}
	wrote, err := inheritDefaults(parent, filepath.Join(*out, "model"))
	for _, f := range wrote {
		c.Printf("note: %s holds the sampling defaults of %s, the model this run started from\n", f, parent)
	}
	if err != nil {
		return c.Fail(fmt.Errorf("the sampling defaults of %s: %w", parent, err))
	}
	return 0
}
