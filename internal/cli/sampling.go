package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// Sampling is what a sampling command works with: a model directory's
// model and noise schedule, the guidance asked for, and the setup of the
// samples to draw (their shape, noise, batches and class labels).
type Sampling struct {
	Dir      string
	Model    *unet.Model
	Noise    *diffusion.Schedule
	Guidance diffusion.Guidance
	Setup    evaluate.Setup
	// Text is a text-conditioned model's text encoder, and Prompts the
	// prompts of the samples, one per sample (nil for other models).
	Text    *textenc.Prompter
	Prompts []string
}

// LoadSampling loads the model of dir for n samples in batches of batch
// from seed, with class labels as diffusion.ParseLabels reads them ("" for
// an unconditional model; "cycle" gives none there either), or for a
// text-conditioned model prompts (taken in turn; required), and guidance
// of the given scale. It reports, before anything is drawn, settings the
// model cannot take, prompts its vocabulary cannot, and sizes beyond the
// memory left (extra: bytes per sample the command keeps besides the
// samples, what: what they are).
func LoadSampling(dir string, guidance float64, n, batch int, seed uint64, labels string, prompts []string, extra float64, what string) (*Sampling, error) {
	if n <= 0 {
		return nil, fmt.Errorf("-n %d: want a positive number of samples", n)
	}
	if batch <= 0 {
		return nil, fmt.Errorf("-batch %d: want a positive number of samples per batch", batch)
	}
	m, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		return nil, err
	}
	shape, err := m.Config.SampleShape()
	if err != nil {
		return nil, fmt.Errorf("-model %s: %w", dir, err)
	}
	text, err := diffusion.LoadText(dir, m)
	if err != nil {
		return nil, err
	}
	switch {
	case text != nil && len(prompts) == 0:
		return nil, fmt.Errorf("-model %s is conditioned on text: give -prompt or -prompts", dir)
	case text == nil && len(prompts) > 0:
		return nil, fmt.Errorf("-prompt: -model %s is not conditioned on text (a %s has no cross-attention)", dir, unet.ClassUNet2D)
	}
	k := m.Config.NumClasses()
	var g diffusion.Guidance
	if text != nil {
		g, err = diffusion.TextGuidance(text, guidance)
	} else {
		g, err = diffusion.ClassGuidance(k, guidance)
	}
	if err != nil {
		return nil, err
	}
	need, err := diffusion.SampleMemory(m.Config, n, batch, shape, g.Branches())
	if err != nil {
		return nil, err
	}
	if err := sysmem.Check(need+float64(n)*extra, fmt.Sprintf("-n %d with -batch %d (samples of %d×%d×%d%s)", n, batch, shape[0], shape[1], shape[2], what)); err != nil {
		return nil, err
	}
	if k == 0 && labels == "cycle" {
		labels = ""
	}
	lab, err := diffusion.ParseLabels(labels, n, k)
	if err != nil {
		return nil, err
	}
	cond := diffusion.Labels(lab)
	var rows []string
	if text != nil {
		rows = diffusion.Prompts(prompts, n)
		tc, err := diffusion.PromptCond(text, rows)
		if err != nil {
			return nil, err
		}
		cond.Text = tc.Text
	}
	setup := evaluate.Setup{Noise: noise, Shape: shape, N: n, Batch: batch, Seed: seed, Cond: cond, Prompts: rows}
	if text != nil {
		// The text encoder runs once per distinct prompt (clause).
		all := rows
		if g.Active() {
			all = append(slices.Clip(rows), "")
		}
		f, err := text.DistinctFLOPs(all)
		if err != nil {
			return nil, err
		}
		setup.TextGFLOPs = float64(f) / float64(n) / 1e9
	}
	return &Sampling{Dir: dir, Model: m, Noise: noise, Guidance: g, Text: text, Prompts: rows, Setup: setup}, nil
}

// CheckOutFiles reports an output path (by its flag) that cannot be
// written; empty paths are skipped.
func CheckOutFiles(flagPaths ...string) error {
	for i := 0; i+1 < len(flagPaths); i += 2 {
		if flagPaths[i+1] == "" {
			continue
		}
		if err := fsutil.CheckOutFile(flagPaths[i], flagPaths[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// SampleName names a sampling command's outputs: the model's name
// (models.Name), the sampler and steps, the guidance scale and the adaptor
// ("teacher-dpmpp2m8-g2-identity-clock2").
func SampleName(dir, sampler string, steps int, guidance float64, cw *ClockworkFlags) string {
	name := fmt.Sprintf("%s-%s%d", models.Name(dir), sampler, steps)
	if guidance != 1 {
		name += fmt.Sprintf("-g%g", guidance)
	}
	return name + cw.Name()
}

// ReadPrompts returns the prompts of -prompt (one) or -prompts (a file of
// one prompt per line; blank lines and lines starting with # are skipped),
// nil when neither is given.
func ReadPrompts(prompt, file string) ([]string, error) {
	switch {
	case prompt != "" && file != "":
		return nil, fmt.Errorf("-prompt and -prompts: give one")
	case prompt != "":
		return []string{prompt}, nil
	case file == "":
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-prompts: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-prompts %s holds no prompt", file)
	}
	return out, nil
}

// Outputs fills in a command's output file and grid: out, when empty, is
// runs/SUBDIR/NAME.EXT; grid, when "-", the PNG beside it (empty: none).
// Both are checked to be writable.
func Outputs(out, grid *string, subdir, name, ext string) error {
	if *out == "" {
		*out = filepath.Join("runs", subdir, name+ext)
	}
	if *grid == "-" {
		*grid = strings.TrimSuffix(*out, filepath.Ext(*out)) + ".png"
	}
	return CheckOutFiles("-out", *out, "-grid", *grid)
}

// StudyText returns what a study of a text-conditioned teacher (loaded
// from dir) needs besides the teacher: its text encoder and the captions
// of the captioned digits' train split, the prompts of its
// distillations. Other teachers get nil.
func StudyText(dir string, m *unet.Model) (*textenc.Prompter, []string, error) {
	text, err := diffusion.LoadText(dir, m)
	if err != nil || text == nil {
		return nil, nil, err
	}
	data, err := datasets.Open(captions.DataKind, "train")
	if err != nil {
		return nil, nil, err
	}
	return text, data.Captions, nil
}

// DistillText gives a distiller of a text-conditioned teacher (loaded from
// dir) its text encoder and the captions its trajectories' prompts are
// drawn from: those of the captioned digits' train split. Other teachers
// need nothing.
//
// An editor (a text-conditioned teacher whose input is the noisy image and
// a source image) draws its trajectories' instructions and sources from
// the edit pairs' train split instead (distill.Distiller.UseEdits).
func DistillText(d *distill.Distiller, dir string) error {
	if edits.IsEditor(d.Teacher.Config) {
		text, err := diffusion.LoadText(dir, d.Teacher)
		if err != nil {
			return err
		}
		g, err := diffusion.LoadGuidanceInfo(dir)
		if err != nil {
			return err
		}
		set, err := edits.OpenSplit("train", 0)
		if err != nil {
			return err
		}
		return d.UseEdits(text, set.Phrases(), set.Data.Inputs, g)
	}
	text, caps, err := StudyText(dir, d.Teacher)
	if err != nil || text == nil {
		return err
	}
	return d.UseText(text, caps)
}

// PromptFlags are the -prompt and -prompts flags of a command that samples
// a text-conditioned model.
type PromptFlags struct{ Prompt, File string }

// Register adds the flags to fs; what says what a command does without
// them.
func (p *PromptFlags) Register(fs *flag.FlagSet, what string) {
	fs.StringVar(&p.Prompt, "prompt", "", "the prompt of every sample of a text-conditioned model (\"a thick seven on the left\")")
	fs.StringVar(&p.File, "prompts", "", "a file of prompts, one per line, taken in turn"+what)
}

// Prompts returns the prompts given (ReadPrompts), nil for none.
func (p *PromptFlags) Prompts() ([]string, error) { return ReadPrompts(p.Prompt, p.File) }

// Or returns the prompts given, or for a text-conditioned model given none
// the first n captions of the captioned digits' split ("test", "val" or
// "train"; its images are then the FID reference).
func (p *PromptFlags) Or(dir string, n int, split string) ([]string, error) {
	ps, err := p.Prompts()
	if err != nil || ps != nil {
		return ps, err
	}
	cfg, err := unet.ConfigFrom(dir)
	if err != nil || !cfg.Conditional() {
		return nil, err
	}
	return captions.SplitCaptions(split, n)
}

// ModelDefaults sets *guidance and *steps (steps may be nil) to a model
// directory's sampling defaults (diffusion.SamplingDefaultsFile) where
// the command line did not give -guidance and -steps, and says so on
// stderr. A directory without the file changes nothing.
func (c *Command) ModelDefaults(dir string, guidance *float64, steps *int) error {
	d, err := diffusion.LoadSamplingDefaults(dir)
	if err != nil || d == nil {
		return err
	}
	var took []string
	if !c.Given("guidance") {
		*guidance = d.Guidance
		took = append(took, fmt.Sprintf("guidance %g", d.Guidance))
	}
	if steps != nil && d.Steps > 0 && !c.Given("steps") {
		*steps = d.Steps
		took = append(took, fmt.Sprintf("%d steps", d.Steps))
	}
	if len(took) > 0 {
		fmt.Fprintf(c.Stderr, "%s: %s (%s)\n", c.Name, strings.Join(took, " and "), filepath.Join(dir, diffusion.SamplingDefaultsFile))
	}
	return nil
}
