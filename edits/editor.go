package edits

import (
	"fmt"
	"math"
	"strings"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// Editor is an instruction-guided image editor (InstructPix2Pix, Brooks et
// al., CVPR 2023): a UNet2DConditionModel whose input is the noisy image
// concatenated with the source image, attending to the instruction's text
// embeddings, with its noise schedule and text encoder.
type Editor struct {
	Dir   string
	Model *unet.Model
	Noise *diffusion.Schedule
	Text  *textenc.Prompter
	// Shape is an edited image's (C, H, W); the model takes 2·C channels.
	Shape []int
	// Student, for a guidance-distilled student, says what it learned: it
	// edits in one pass, the scales embedded in its class vector
	// (diffusion.GuidanceVector). Nil for a three-pass editor.
	Student *diffusion.GuidanceInfo
	// Defaults, when the directory has DefaultsFile, are the scales, steps
	// and chaining its editor is meant to run at (chosen on the validation
	// split); nil otherwise.
	Defaults *Defaults
	// Base, when set, is the denoiser Edit and Evaluate run the U-Net as:
	// Clockwork on Model (distill.OpenFrom, for the options' sampler,
	// steps and strength), say. Nil: Model itself.
	Base diffusion.Denoiser
}

// base returns the denoiser the editor runs its U-Net as (Base).
func (e *Editor) base() diffusion.Denoiser {
	if e.Base != nil {
		return e.Base
	}
	return &diffusion.ModelDenoiser{Model: e.Model}
}

// IsEditor reports whether a U-Net config is an editor's: text-conditioned,
// its input the noisy image and the source image side by side (LoadEditor
// says which of the two a model lacks).
func IsEditor(c unet.Config) bool {
	return c.Conditional() && c.InChannels == 2*c.OutChannels
}

// LoadEditor loads the editor of a model directory. A model that is not
// an editor (a text-to-image model, whose input is the image alone, or one
// without text) is an error naming the directory.
func LoadEditor(dir string) (*Editor, error) {
	m, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		return nil, err
	}
	c := m.Config
	if !c.Conditional() {
		return nil, fmt.Errorf("-model %s is a %s: an editor is a %s that attends to the instruction", dir, unet.ClassUNet2D, unet.ClassUNet2DCondition)
	}
	if c.InChannels != 2*c.OutChannels {
		return nil, fmt.Errorf("-model %s takes %d input channels for %d output channels: an editor takes the noisy image and the source image (2·%d); this is a text-to-image model", dir, c.InChannels, c.OutChannels, c.OutChannels)
	}
	shape, err := c.SampleShape()
	if err != nil {
		return nil, fmt.Errorf("-model %s: %w", dir, err)
	}
	shape[0] = c.OutChannels
	text, err := diffusion.LoadText(dir, m)
	if err != nil {
		return nil, err
	}
	g, err := diffusion.LoadGuidanceInfo(dir)
	if err != nil {
		return nil, err
	}
	switch {
	case g != nil && c.ClassProjection() != 2*c.BlockOutChannels[0]:
		return nil, fmt.Errorf("-model %s has %s but no projection class embedding of width %d: it is not a guidance-distilled student", dir, diffusion.GuidanceFile, 2*c.BlockOutChannels[0])
	case g == nil && c.ClassProjection() > 0:
		return nil, fmt.Errorf("-model %s has a projection class embedding but no %s: a guidance-distilled student without it cannot be told its scales", dir, diffusion.GuidanceFile)
	}
	e := &Editor{Dir: dir, Model: m, Noise: noise, Text: text, Shape: shape, Student: g}
	if e.Defaults, err = LoadDefaults(dir); err != nil {
		return nil, err
	}
	return e, nil
}

// LoadThreePass loads a three-pass editor (the teacher of guidance
// distillation, the reference of a study): a guidance-distilled student
// is an error naming it.
func LoadThreePass(dir string) (*Editor, error) {
	e, err := LoadEditor(dir)
	if err == nil && e.Student != nil {
		err = fmt.Errorf("-model %s is a guidance-distilled student (it has %s), not a three-pass editor", dir, diffusion.GuidanceFile)
	}
	return e, err
}

// LoadStudent loads a guidance-distilled student: a three-pass editor is
// an error naming it.
func LoadStudent(dir string) (*Editor, error) {
	e, err := LoadEditor(dir)
	if err == nil && e.Student == nil {
		err = fmt.Errorf("-model %s is a three-pass editor, not a guidance-distilled student (it has no %s)", dir, diffusion.GuidanceFile)
	}
	return e, err
}

// CheckTeacher reports a student that was not distilled from teacher: its
// GuidanceFile records its teacher's fingerprint (unet.Model.Fingerprint),
// and a study or sweep that sets the two side by side, measuring the
// student against its teacher, must be given that teacher. A student
// that records no fingerprint is not checked.
func (e *Editor) CheckTeacher(teacher *Editor) error {
	if e.Student == nil {
		return fmt.Errorf("%s is not a guidance-distilled student", e.Dir)
	}
	want := e.Student.Fingerprint
	if got := teacher.Model.Fingerprint(); want != "" && got != want {
		return fmt.Errorf("the student %s was distilled from %s (fingerprint %s), not from %s (fingerprint %s): give its teacher as -model", e.Dir, e.Student.Teacher, want, teacher.Dir, got)
	}
	return nil
}

// Options configure an edit.
type Options struct {
	Sampler string // default dpmpp2m
	Steps   int    // default 20
	// TextScale and ImageScale are two-scale guidance's s_T and s_I
	// (diffusion.Guidance); diffusers' InstructPix2Pix pipeline defaults
	// are 7.5 and 1.5 (DefaultOptions).
	TextScale, ImageScale float64
	Seed                  uint64
	Batch                 int // images per batch (default 32)
	// SharedNoise draws every image's noise from the seed's first stream
	// (the same noise for all, as frame-by-frame video editing with shared
	// noise does) instead of image j's from stream j.
	SharedNoise bool `json:",omitempty"`
	// Compose, above 1, composes an instruction's clauses (cut at "and",
	// at most Compose) by composable diffusion (diffusion.Guidance.Compose;
	// Liu et al., ECCV 2022): each clause its own conditional branch, one
	// more pass per step for each clause after the first. A three-pass
	// editor that reads whole instructions only.
	Compose int `json:",omitempty"`
	// Chain edits an instruction's clauses (cut at "and") one after
	// another, each a whole edit of Steps steps: "A and B" edits the
	// source by A, then A's output by B, as a user would give an editor
	// the two instructions in turn (InstructPix2Pix, Sec. 5, edits
	// sequentially). A k-clause instruction costs k edits. Clause r ≥ 1
	// draws image j's noise from stream j (0 with SharedNoise) of
	// ChainSeed(Seed, r), so a one-clause instruction edits exactly as
	// without Chain.
	Chain bool `json:",omitempty"`
	// Strength, in (0, 1), starts each edit part-way, from its source
	// noised to the step where the last int(Steps·Strength) of the Steps
	// steps begin, as diffusers' image-to-image pipelines start from their
	// input (SDEdit; diffusion.Options.Strength): fewer model evaluations
	// per edit. 0 and 1 start from pure noise, as InstructPix2Pix does.
	Strength float64 `json:",omitempty"`
}

// ChainSeed returns the seed of clause r of a chained edit (Options.Chain):
// seed itself for the first clause, then a splitmix64 step per clause.
func ChainSeed(seed uint64, r int) uint64 {
	if r == 0 {
		return seed
	}
	z := seed + uint64(r)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Clauses cuts an instruction at its words "and": the clauses a chained
// edit (Options.Chain) runs one after another. An empty clause ("and" at
// either end, or twice) is an error naming the instruction.
func Clauses(instruction string) ([]string, error) {
	words := textenc.Words(instruction)
	if len(words) == 0 {
		return nil, fmt.Errorf("an empty instruction %q", instruction)
	}
	var out, cur []string
	for _, w := range append(words, "and") {
		if w != "and" {
			cur = append(cur, w)
			continue
		}
		if len(cur) == 0 {
			return nil, fmt.Errorf("instruction %q: an empty clause around \"and\"", instruction)
		}
		out = append(out, strings.Join(cur, " "))
		cur = nil
	}
	return out, nil
}

// DefaultOptions are diffusers' InstructPix2Pix pipeline's defaults with
// the toolkit's sampler: 20 DPM-Solver++ steps, s_T = 7.5, s_I = 1.5.
func DefaultOptions() Options {
	return Options{Sampler: "dpmpp2m", Steps: 20, TextScale: 7.5, ImageScale: 1.5, Batch: 32}
}

// Check reports scales that are NaN, infinite or negative, and steps or a
// batch that are not positive.
func (o Options) Check() error {
	for _, s := range []struct {
		name string
		v    float64
	}{{"text guidance scale", o.TextScale}, {"image guidance scale", o.ImageScale}} {
		if math.IsNaN(s.v) || math.IsInf(s.v, 0) || s.v < 0 {
			return fmt.Errorf("%s %g: want a finite number ≥ 0", s.name, s.v)
		}
	}
	if o.Steps <= 0 {
		return fmt.Errorf("%d steps: want a positive number", o.Steps)
	}
	if o.Batch <= 0 {
		return fmt.Errorf("batch of %d: want a positive number", o.Batch)
	}
	if o.Compose < 0 || o.Compose > textenc.MaxClauses {
		return fmt.Errorf("composing %d clauses: want 0 to %d", o.Compose, textenc.MaxClauses)
	}
	if o.Chain && o.Compose > 1 {
		return fmt.Errorf("chained clauses and composed clauses: choose one")
	}
	if _, err := diffusion.StepsFrom(o.Steps, o.Strength); err != nil {
		return err
	}
	return nil
}

// evals returns the sampler's model evaluations per edit under o: those of
// the steps Strength keeps.
func (o Options) evals() (int, error) {
	k, err := diffusion.StepsFrom(o.Steps, o.Strength)
	if err != nil {
		return 0, err
	}
	return diffusion.EvalsFor(o.Sampler, k)
}

// Sampling returns the sampler's options for editing sources (their rows'
// noise streams: indices, nil for 0, 1, …) under o with conditioning cond:
// from noise, or from the sources under Strength.
func (o Options) Sampling(cond diffusion.Cond, sources []float32, indices []int) diffusion.Options {
	so := diffusion.Options{Sampler: o.Sampler, Steps: o.Steps, Seed: o.Seed, Cond: cond, Indices: indices}
	if o.Strength > 0 && o.Strength < 1 {
		so.Init, so.Strength = sources, o.Strength
	}
	return so
}

// composing returns the prompter that embeds instructions under o: the
// editor's own, or for composed guidance one that cuts them into
// o.Compose clauses (an error for a student or an editor that already
// reads clauses).
func (e *Editor) composing(o Options) (*textenc.Prompter, error) {
	if o.Compose <= 1 {
		return e.Text, nil
	}
	switch {
	case e.Student != nil:
		return nil, fmt.Errorf("-model %s is a guidance-distilled student: composing clauses needs a three-pass editor", e.Dir)
	case e.Text.Clauses > 1:
		return nil, fmt.Errorf("-model %s reads instructions clause by clause (%s): composing clauses needs an editor that reads them whole", e.Dir, textenc.ClausesFile)
	}
	p := *e.Text
	p.Clauses = o.Compose
	return &p, nil
}

// Wrap returns d, a denoiser of the editor's model (the model itself, or
// Clockwork on it), as the editor runs it under o: with two-scale
// guidance for a three-pass editor, at o's scales (diffusion.Scaled) for
// a student.
func (e *Editor) Wrap(d diffusion.Denoiser, o Options) (diffusion.Denoiser, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if e.Student != nil {
		if o.Compose > 1 {
			return nil, fmt.Errorf("-model %s is a guidance-distilled student: composing clauses needs a three-pass editor", e.Dir)
		}
		return &diffusion.Scaled{D: d, Model: e.Model, Text: o.TextScale, Image: o.ImageScale}, nil
	}
	g, err := e.Guidance(o)
	if err != nil {
		return nil, err
	}
	return diffusion.Guide(d, g)
}

// Guidance returns the two-scale guidance of o (composing o.Compose
// clauses, whose embeddings Edit makes). Scales of 1 and 0 run the
// conditional branch alone.
func (e *Editor) Guidance(o Options) (diffusion.Guidance, error) {
	g := diffusion.Guidance{Scale: o.TextScale, ImageScale: o.ImageScale, Compose: o.Compose}
	if !g.Active() {
		return g, nil
	}
	null, err := diffusion.PromptCond(e.Text, []string{""})
	if err != nil {
		return g, err
	}
	g.Null = null
	return g, g.Validate()
}

// CheckImages reports source images that an editor cannot take: values
// that are not n images of its shape, or NaN or infinite pixels (named by
// image and pixel). what names them in errors.
func (e *Editor) CheckImages(what string, images []float32, n int) error {
	per := e.Shape[0] * e.Shape[1] * e.Shape[2]
	if n <= 0 || len(images) != n*per {
		return fmt.Errorf("%s: %d values for %d images of %d×%d×%d (what -model %s edits)", what, len(images), n, e.Shape[0], e.Shape[1], e.Shape[2], e.Dir)
	}
	for k, v := range images {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: image %d has %v at value %d", what, k/per, v, k%per)
		}
	}
	return nil
}

// CheckInstruction reports an instruction the editor cannot read under o:
// a word its text encoder does not know, more words than it reads, or,
// when o chains clauses, an empty clause (each clause is then read alone).
func (e *Editor) CheckInstruction(instruction string, o Options) error {
	if !o.Chain {
		_, err := e.Text.IDs([]string{instruction})
		return err
	}
	c, err := Clauses(instruction)
	if err != nil {
		return err
	}
	_, err = e.Text.IDs(c)
	return err
}

// Edit edits n source images (n·C·H·W values in [−1, 1]) by their
// instructions (one per image, or one for all), with two-scale guidance,
// and returns the edited images clipped to [−1, 1]. Image j draws its
// noise from stream j of o.Seed (stream 0 with o.SharedNoise; clause r ≥ 1
// of a chained edit from ChainSeed(o.Seed, r)), so an edit does not depend
// on the batch. progress, when set, is called with the number of images
// done (for a chained edit, the clause edits done scaled to n).
func (e *Editor) Edit(sources []float32, n int, instructions []string, o Options, progress func(int)) ([]float32, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if err := e.CheckImages("the source images", sources, n); err != nil {
		return nil, err
	}
	if len(instructions) != 1 && len(instructions) != n {
		return nil, fmt.Errorf("%d instructions for %d images: give one, or one per image", len(instructions), n)
	}
	for _, in := range instructions {
		if in == "" {
			return nil, fmt.Errorf("an empty instruction: the empty text is the dropped one of guidance")
		}
	}
	base := e.base()
	if o.Chain {
		return e.chain(base, sources, n, diffusion.Prompts(instructions, n), o, progress)
	}
	return e.edit(base, sources, n, instructions, o, nil, progress)
}

// chain edits image j by its instruction's clauses in turn (Options.Chain)
// with base, the editor's model or Clockwork on it (Wrap): round r edits
// the images with an r-th clause, image j from stream j of
// ChainSeed(o.Seed, r). progress counts clause edits scaled to n images.
func (e *Editor) chain(base diffusion.Denoiser, sources []float32, n int, instructions []string, o Options, progress func(int)) ([]float32, error) {
	clauses := make([][]string, n)
	total := 0
	for j, in := range instructions {
		c, err := Clauses(in)
		if err != nil {
			return nil, err
		}
		if _, err := e.Text.IDs(c); err != nil {
			return nil, fmt.Errorf("instruction %q: %w", in, err)
		}
		clauses[j] = c
		total += len(c)
	}
	per := e.Shape[0] * e.Shape[1] * e.Shape[2]
	cur := append([]float32(nil), sources...)
	done := 0
	for r := 0; ; r++ {
		var idx []int
		var ins []string
		for j, c := range clauses {
			if r < len(c) {
				idx = append(idx, j)
				ins = append(ins, c[r])
			}
		}
		if len(idx) == 0 {
			return cur, nil
		}
		src := make([]float32, 0, len(idx)*per)
		for _, j := range idx {
			src = append(src, cur[j*per:(j+1)*per]...)
		}
		oo := o
		oo.Chain = false
		oo.Seed = ChainSeed(o.Seed, r)
		var prog func(int)
		if progress != nil {
			prog = func(k int) { progress((done + k) * n / total) }
		}
		out, err := e.edit(base, src, len(idx), ins, oo, idx, prog)
		if err != nil {
			return nil, fmt.Errorf("clause %d of the instructions: %w", r+1, err)
		}
		for k, j := range idx {
			copy(cur[j*per:(j+1)*per], out[k*per:(k+1)*per])
		}
		done += len(idx)
	}
}

// edit edits n checked sources by their instructions (one, or one per
// image) under o with base (Wrap), image j from noise stream indices[j] (j
// when nil).
func (e *Editor) edit(base diffusion.Denoiser, sources []float32, n int, instructions []string, o Options, indices []int, progress func(int)) ([]float32, error) {
	text, err := e.composing(o)
	if err != nil {
		return nil, err
	}
	cond, err := diffusion.PromptCond(text, diffusion.Prompts(instructions, n))
	if err != nil {
		return nil, err
	}
	cond.Pooled = nil
	cond.Image = tensor.New(tensor.WithShape(n, e.Shape[0], e.Shape[1], e.Shape[2]), tensor.WithBacking(sources))
	d, err := e.Wrap(base, o)
	if err != nil {
		return nil, err
	}
	so := o.Sampling(cond, sources, indices)
	if o.SharedNoise {
		so.Indices = nil
		per := e.Shape[0] * e.Shape[1] * e.Shape[2]
		out := make([]float32, 0, n*per)
		for i := range n {
			one := so
			one.Cond = cond.Slice(i, i+1)
			if so.Init != nil {
				one.Init = sources[i*per : (i+1)*per]
			}
			x, err := diffusion.SampleMany(d, e.Noise, e.Shape, 1, 1, one, nil)
			if err != nil {
				return nil, fmt.Errorf("image %d: %w", i, err)
			}
			out = append(out, x.Float32s()...)
			if progress != nil {
				progress(i + 1)
			}
		}
		return diffusion.ClipImages(out), nil
	}
	x, err := diffusion.SampleMany(d, e.Noise, e.Shape, n, o.Batch, so, progress)
	if err != nil {
		return nil, err
	}
	return diffusion.ClipImages(x.Data().([]float32)), nil
}

// GFLOPs returns the cost of one edit under o in GFLOPs: the U-Net's
// forward pass (its class embedding included) times the guidance's
// branches (one for a student; one more per composed clause) times the
// sampler's model evaluations, and the text encoder once per edit (the
// instruction, once per clause when composing; the empty text of
// guidance is shared by a whole run and not counted).
func (e *Editor) GFLOPs(o Options) (float64, error) {
	evals, err := o.evals()
	if err != nil {
		return 0, err
	}
	branches := diffusion.Guidance{Scale: o.TextScale, ImageScale: o.ImageScale, Compose: o.Compose}.Branches()
	if e.Student != nil {
		branches = 1
	}
	text, err := e.composing(o)
	if err != nil {
		return 0, err
	}
	_, f := e.Model.CostAt(e.Shape[1], e.Shape[2], e.Text.Tokens()).Total()
	return (float64(f)*float64(branches*evals) + float64(text.FLOPs())) / 1e9, nil
}

// MeanGFLOPs returns the mean cost in GFLOPs of editing by instructions
// under o: GFLOPs(o) for each, times its clauses when o.Chain.
func (e *Editor) MeanGFLOPs(o Options, instructions []string) (float64, error) {
	g, err := e.GFLOPs(o)
	if err != nil || !o.Chain {
		return g, err
	}
	if len(instructions) == 0 {
		return 0, fmt.Errorf("the mean cost of no instructions")
	}
	k, err := clauseCount(instructions)
	if err != nil {
		return 0, err
	}
	return g * float64(k) / float64(len(instructions)), nil
}

// Encodings returns how many times the text encoder runs for edits of
// instructions under o: once per edit, once per clause when chained.
func Encodings(o Options, instructions []string) (int, error) {
	if !o.Chain {
		return len(instructions), nil
	}
	return clauseCount(instructions)
}

// CountedGFLOPs returns the mean GFLOPs per edit of instructions under o
// whose U-Net spent unetFLOPs in all as counted (diffusion.CountedFLOPs:
// what Clockwork's adaptor steps really cost), with the text encoder's
// FLOPs for each of its Encodings: the figure Study reports for its rows
// and the edit command for an edit with an adaptor.
func (e *Editor) CountedGFLOPs(o Options, instructions []string, unetFLOPs int64) (float64, error) {
	if len(instructions) == 0 {
		return 0, fmt.Errorf("the mean cost of no instructions")
	}
	texts, err := Encodings(o, instructions)
	if err != nil {
		return 0, err
	}
	return (float64(unetFLOPs)/1e9 + float64(e.Text.FLOPs())/1e9*float64(texts)) / float64(len(instructions)), nil
}

// clauseCount returns how many clauses the instructions have in all
// (Clauses), the edits chaining them takes.
func clauseCount(instructions []string) (int, error) {
	k := 0
	for _, in := range instructions {
		c, err := Clauses(in)
		if err != nil {
			return 0, err
		}
		k += len(c)
	}
	return k, nil
}

// Held-out evaluation.

// ImagesTensor wraps n images of shape (C, H, W) as an (N, C, H, W)
// tensor sharing x.
func ImagesTensor(x []float32, n int, shape []int) *tensor.Dense {
	return tensor.New(tensor.WithShape(n, shape[0], shape[1], shape[2]), tensor.WithBacking(x))
}
