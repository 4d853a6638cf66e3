package distill

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// Distiller distils an adaptor from a teacher (model-step distillation,
// Habibian et al., CVPR 2024, Sec. 4.4 and App. Alg. 1).
type Distiller struct {
	// Dir is the adaptor directory the distillation writes (checkpoints,
	// metrics.jsonl, and at the end adaptor.json and adaptor.npz).
	Dir string
	// Config is the distillation's settings.
	Config Config
	// Teacher is the model distilled, TeacherDir where it was loaded from
	// (recorded in adaptor.json), Noise its noise schedule.
	Teacher    *unet.Model
	TeacherDir string
	Noise      *diffusion.Schedule
	// Adaptor is the adaptor being trained, Opt its Adam optimiser.
	Adaptor Trainable
	Opt     *nn.Adam
	// Epoch is the number of epochs done.
	Epoch int
	// Seconds is the wall time spent distilling so far (over resumes).
	Seconds float64
	// Data is the image set of forward-noised distillation.
	Data *datasets.Images
	// Text and Captions give a text-conditioned teacher its prompts: each
	// trajectory's caption is drawn from Captions (from the seed; one in
	// ten is the empty caption, the branch guidance drops the prompt to)
	// and encoded by Text, the teacher's text encoder (UseText).
	Text     *textenc.Prompter
	Captions []string
	// Inputs, for an editor (a teacher whose input is the noisy image and
	// a source image), are the source images, Inputs' image i paired with
	// Captions[i] (UseEdits).
	Inputs *datasets.Images
	// Student, for a guidance-distilled student editor, holds the scale
	// ranges it learned: its trajectories draw their scales from them.
	Student *diffusion.GuidanceInfo
	// UnrollBatch is the sampling batch of the trajectories (results do
	// not depend on it); default 64.
	UnrollBatch int
	// Progress, when set, is called after every epoch.
	Progress func(train.Progress)
	// Log, when set, gets a line per epoch.
	Log io.Writer
	// Source, when set, supplies the epochs' records: distillers that
	// share one train on the same trajectories, unrolled once.
	Source *Source
	// Note is what ResumeDistiller did that the user should know (a
	// checkpoint adopted because the latest was lost); empty otherwise.
	Note string

	clock  Clock
	rngSrc *rand.PCG
	rng    *rand.Rand
	f      *nn.Func
	val    *Records
	last   EpochMetrics
}

// EpochMetrics is one line of a distillation's metrics.jsonl.
type EpochMetrics struct {
	Step            int     `json:"step"` // epochs done
	TrainLoss       float64 `json:"train_loss"`
	ValLoss         float64 `json:"val_loss"`
	IdentityValLoss float64 `json:"identity_val_loss"`
	LR              float64 `json:"lr"`
	Records         int     `json:"records"`
	RecordsMB       float64 `json:"records_mb"`
}

// NewDistiller prepares a distillation into dir (which must hold no
// checkpoint). data is needed for forward-noised distillation only.
func NewDistiller(dir string, teacher *unet.Model, teacherDir string, noise *diffusion.Schedule, c Config, data *datasets.Images) (*Distiller, error) {
	switch has, err := train.HasCheckpoint(dir); {
	case err != nil:
		return nil, err
	case has:
		return nil, fmt.Errorf("%s already holds a distillation: resume it or choose another directory", dir)
	}
	return newDistiller(dir, teacher, teacherDir, noise, c, data)
}

func newDistiller(dir string, teacher *unet.Model, teacherDir string, noise *diffusion.Schedule, c Config, data *datasets.Images) (*Distiller, error) {
	c.Adaptor = c.Adaptor.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Data == "noised" && data == nil {
		return nil, fmt.Errorf("forward-noised distillation needs an image set")
	}
	na, err := New(teacher, c.Adaptor, c.Seed)
	if err != nil {
		return nil, err
	}
	a, ok := na.(Trainable)
	if !ok {
		return nil, fmt.Errorf("a %s adaptor has nothing to train", c.Adaptor.Kind)
	}
	if err := sysmem.Check(float64(c.MemoryEstimate(a.Base())), fmt.Sprintf("trajectories %d and validation %d (an epoch's records)", c.Trajectories, c.Validation)); err != nil {
		return nil, err
	}
	clock, err := c.clockAt(c.Adaptor.Steps)
	if err != nil {
		return nil, err
	}
	d := &Distiller{Dir: dir, Config: c, Teacher: teacher, TeacherDir: teacherDir, Noise: noise, Adaptor: a, Data: data, clock: clock}
	d.Opt = nn.NewAdam(c.LR)
	d.rngSrc = rand.NewPCG(c.Seed, 0xd157)
	d.rng = rand.New(d.rngSrc)
	ro := a.Base().ROut
	shapes := append(a.Shapes(c.Batch), []int{c.Batch, ro[0], ro[1], ro[2]})
	d.f, err = nn.NewFunc(nn.FuncDef{Params: a.Params(), Frozen: []*nn.Params{teacher.Params}, Inputs: shapes, Grad: true,
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			out, err := a.Graph(g, in[:len(in)-1])
			if err != nil {
				return nil, err
			}
			return []*G.Node{nn.MSE(out, in[len(in)-1])}, nil
		}})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// ResumeDistiller continues the distillation in dir from its latest
// checkpoint, with the settings saved there.
//
// When the latest checkpoint is missing or incomplete (a run killed before
// writing its latest file) the newest complete one is adopted, and Note
// says so; a checkpoint that does not check out is an error naming the file
// and the problem.
func ResumeDistiller(dir string, teacher *unet.Model, teacherDir string, noise *diffusion.Schedule, data *datasets.Images) (*Distiller, error) {
	names := []string{WeightsFile, "adam.npz", "state.json"}
	ck, note, err := train.Find(dir, -1, names...)
	if err != nil {
		return nil, err
	}
	damaged := func(err error) error {
		return train.Damaged(dir, ck, err, names, func(step int) string {
			return fmt.Sprintf("remove %s and resume, which then continues from %s", ck, train.StepName(step))
		})
	}
	b, err := os.ReadFile(filepath.Join(ck, "state.json"))
	if err != nil {
		return nil, damaged(err)
	}
	var st distillState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, damaged(fmt.Errorf("%s: %w", filepath.Join(ck, "state.json"), err))
	}
	if fp := teacher.Fingerprint(); st.Teacher != fp {
		return nil, fmt.Errorf("%s distils teacher %s; this teacher is %s", dir, st.Teacher, fp)
	}
	d, err := newDistiller(dir, teacher, teacherDir, noise, st.Config, data)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	if err := d.checkpoint().Load(ck); err != nil {
		return nil, damaged(err)
	}
	d.Note = note
	return d, nil
}

// CheckpointConfig returns the settings of the distillation in dir, from its
// newest complete checkpoint: what a resume continues with (a command reads
// it to know, say, whether the run needs MNIST images).
func CheckpointConfig(dir string) (Config, error) {
	ck, _, err := train.Find(dir, -1, WeightsFile, "adam.npz", "state.json")
	if err != nil {
		return Config{}, err
	}
	b, err := os.ReadFile(filepath.Join(ck, "state.json"))
	if err != nil {
		return Config{}, err
	}
	var st distillState
	if err := json.Unmarshal(b, &st); err != nil {
		return Config{}, fmt.Errorf("%s: %w", filepath.Join(ck, "state.json"), err)
	}
	return st.Config, nil
}

type distillState struct {
	Epoch     int     `json:"step"`
	Seconds   float64 `json:"seconds"`
	RNG       []byte  `json:"rng"`
	AdamSteps int     `json:"adam_steps"`
	Teacher   string  `json:"teacher"`
	Config    Config  `json:"config"`
}

func (d *Distiller) checkpoint() *train.Checkpoint {
	return &train.Checkpoint{
		Parts: []train.Part{train.ParamsPart(WeightsFile, d.Adaptor.Params()), train.AdamPart("adam.npz", d.Opt, d.Adaptor.Params())},
		State: train.JSONPart("state.json", func() any {
			rng, _ := d.rngSrc.MarshalBinary()
			return distillState{Epoch: d.Epoch, Seconds: d.Seconds, RNG: rng, AdamSteps: d.Opt.Steps, Teacher: d.Teacher.Fingerprint(), Config: d.Config}
		}, func(b []byte) error {
			var st distillState
			if err := json.Unmarshal(b, &st); err != nil {
				return err
			}
			if st.Epoch < 0 || st.AdamSteps < 0 || (st.Epoch == 0) != (st.AdamSteps == 0) || !(st.Seconds >= 0) || math.IsInf(st.Seconds, 0) {
				return fmt.Errorf("epoch %d, adam_steps %d and seconds %g are out of range or disagree", st.Epoch, st.AdamSteps, st.Seconds)
			}
			if err := d.rngSrc.UnmarshalBinary(st.RNG); err != nil {
				return fmt.Errorf("random state: %w", err)
			}
			d.Epoch, d.Opt.Steps, d.Seconds = st.Epoch, st.AdamSteps, st.Seconds
			return nil
		}),
		Step: func() int { return d.Epoch },
	}
}

// epochSeed is the noise seed of an epoch's trajectories; the validation
// trajectories use their own.
func (d *Distiller) epochSeed(epoch int) uint64 {
	return d.Config.Seed ^ (uint64(epoch+1) * 0x9e3779b97f4a7c15)
}

// epochRecords returns an epoch's training records.
func (d *Distiller) epochRecords(epoch int) (*Records, error) {
	if d.Source != nil {
		return d.Source.epoch(d, epoch)
	}
	return d.generate(d.Config.Trajectories, d.epochSeed(epoch))
}

// validation returns the held-out records.
func (d *Distiller) validation() (*Records, error) {
	if d.val != nil {
		return d.val, nil
	}
	var err error
	if d.Source != nil {
		d.val, err = d.Source.validation(d)
	} else {
		d.val, err = d.generate(d.Config.Validation, d.Config.Seed^0x5a1d5a1d5a1d5a1d)
	}
	return d.val, err
}

// generate unrolls (or noises) n trajectories from seed: for an adaptor of
// several step counts, n split between them, each count with its own seed.
func (d *Distiller) generate(n int, seed uint64) (*Records, error) {
	b := d.UnrollBatch
	if b <= 0 {
		b = 64
	}
	c := d.Config
	var all *Records
	for i, steps := range c.counts() {
		k := c.split(n, steps)
		if k == 0 {
			continue
		}
		clock, err := c.clockAt(steps)
		if err != nil {
			return nil, err
		}
		s := seed
		if len(c.StepCounts) > 0 {
			s = seed ^ uint64(i+1)<<56
		}
		var rec *Records
		if c.Data == "noised" {
			rec, err = Noised(d.Teacher, d.Adaptor.Base(), d.Noise, clock, c.Sampler, d.Data, k, b, s)
		} else {
			o := diffusion.Options{Sampler: c.Sampler, Seed: s}
			if o.Cond, o.Init, err = d.prompts(k, s); err != nil {
				return nil, err
			}
			if FromSource(c.Strength) {
				if o.Init == nil {
					return nil, fmt.Errorf("distill: strength %g starts each trajectory from an edit's source: it needs an editor and its edit pairs (Distiller.UseEdits)", c.Strength)
				}
				o.Strength = c.Strength
			} else {
				o.Init = nil
			}
			rec, err = Unroll(d.Teacher, d.Adaptor.Base(), d.Noise, clock, o, steps, k, b)
		}
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = rec
		} else if err := all.appendRecords(rec); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// NullCaptionShare is the share of a text-conditioned teacher's
// distillation trajectories drawn for the empty caption: the prompt
// dropped, as guidance's unconditional branch runs the adaptor too.
const NullCaptionShare = 0.1

// UseText gives a text-conditioned teacher's distillation its prompts: the
// teacher's text encoder and the captions to draw them from (a data set's,
// with repeats).
func (d *Distiller) UseText(text *textenc.Prompter, captions []string) error {
	if err := diffusion.CheckText(d.Teacher.Config, text); err != nil {
		return fmt.Errorf("distill: %w", err)
	}
	if len(captions) == 0 {
		return fmt.Errorf("distill: no captions to draw the trajectories' prompts from")
	}
	if _, err := text.IDs(captions); err != nil {
		return fmt.Errorf("distill: %w", err)
	}
	d.Text, d.Captions = text, captions
	return nil
}

// UseEdits gives an editor's distillation its trajectories' conditioning:
// the teacher's text encoder and edit pairs, instructions[i] with source
// image i of sources (an edit data set's train split). A third of the
// trajectories keep both, a third drop the instruction, a third drop both
// (the image to zeros): the three branches two-scale guidance runs the
// adaptor on. A guidance-distilled student (student not nil) runs one
// branch: its trajectories keep both, at scales drawn from its ranges.
func (d *Distiller) UseEdits(text *textenc.Prompter, instructions []string, sources *datasets.Images, student *diffusion.GuidanceInfo) error {
	if err := d.UseText(text, instructions); err != nil {
		return err
	}
	c, h, w := sources.Shape()
	if sources.Len() != len(instructions) {
		return fmt.Errorf("distill: %d source images for %d instructions", sources.Len(), len(instructions))
	}
	if tc := d.Teacher.Config; c+tc.OutChannels != tc.InChannels {
		return fmt.Errorf("distill: source images of %d channels for a teacher taking %d and giving %d", c, tc.InChannels, tc.OutChannels)
	}
	if s, err := d.Teacher.Config.SampleShape(); err == nil && (s[1] != h || s[2] != w) {
		return fmt.Errorf("distill: source images of %d×%d for a teacher of %d×%d samples", h, w, s[1], s[2])
	}
	d.Inputs, d.Student = sources, student
	return nil
}

// prompts returns the conditioning of n trajectories from seed: none for a
// teacher without text (Unroll draws class labels), else prompts drawn
// from the captions; for an editor, also each trajectory's source image
// (init, n images), where a run from the source starts.
func (d *Distiller) prompts(n int, seed uint64) (cond diffusion.Cond, init []float32, err error) {
	if !d.Teacher.Config.Conditional() {
		return diffusion.Cond{}, nil, nil
	}
	if d.Text == nil {
		return diffusion.Cond{}, nil, fmt.Errorf("distill: a text-conditioned teacher needs its text encoder and captions (Distiller.UseText)")
	}
	rng := rand.New(rand.NewPCG(seed, 0xca9710))
	if d.Inputs != nil {
		return d.edits(n, rng)
	}
	caps := make([]string, n)
	for i := range caps {
		if rng.Float64() >= NullCaptionShare {
			caps[i] = d.Captions[rng.IntN(len(d.Captions))]
		}
	}
	cond, err = diffusion.PromptCond(d.Text, caps)
	return cond, nil, err
}

// Validate returns the adaptor's and the identity adaptor's mean squared
// error on r_out over records.
func (d *Distiller) Validate(r *Records) (adaptor, identity float64, err error) {
	a := d.Adaptor
	const b = 64
	var sa, si float64
	var n int
	for start := 0; start < r.N; start += b {
		idx := make([]int, 0, b)
		for i := start; i < min(start+b, r.N); i++ {
			idx = append(idx, i)
		}
		in, target := r.batch(idx, a.Base()) // rows carry their own steps (RowSteps)
		out, err := a.Apply(in)
		if err != nil {
			return 0, 0, err
		}
		o, p, t := out.Data().([]float32), in.ROutPrev.Data().([]float32), target.Data().([]float32)
		for i, v := range t {
			e := float64(o[i] - v)
			sa += e * e
			f := float64(p[i] - v)
			si += f * f
		}
		n += len(t)
	}
	return sa / float64(n), si / float64(n), nil
}

// epoch unrolls fresh trajectories and makes one pass over their records
// in minibatches.
func (d *Distiller) epoch(epoch int) error {
	start := time.Now()
	defer func() { d.Seconds += time.Since(start).Seconds() }()
	c := d.Config
	rec, err := d.epochRecords(epoch)
	if err != nil {
		return fmt.Errorf("epoch %d: trajectories: %w", epoch+1, err)
	}
	perm := d.rng.Perm(rec.N)
	lr := train.LR{Peak: c.LR, Decay: c.Decay, Steps: c.Epochs}.At(epoch)
	d.Opt.LR = lr
	var sum float64
	steps := rec.N / c.Batch
	for s := 0; s < steps; s++ {
		in, target := rec.batch(perm[s*c.Batch:(s+1)*c.Batch], d.Adaptor.Base())
		gin, err := d.Adaptor.Tensors(in)
		if err != nil {
			return err
		}
		if _, err := d.f.Call(append(gin, target)...); err != nil {
			return fmt.Errorf("epoch %d: %w", epoch+1, err)
		}
		l := d.f.Scalar(0)
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("epoch %d: loss is %v; stopped with the last checkpoint kept", epoch+1, l)
		}
		sum += l
		names, grads := d.f.Gradients()
		if err := d.Opt.Update(d.Adaptor.Params(), names, grads); err != nil {
			return fmt.Errorf("epoch %d: %w", epoch+1, err)
		}
	}
	val, err := d.validation()
	if err != nil {
		return fmt.Errorf("validation trajectories: %w", err)
	}
	va, vi, err := d.Validate(val)
	if err != nil {
		return err
	}
	d.Epoch = epoch + 1
	d.last = EpochMetrics{Step: d.Epoch, TrainLoss: sum / float64(max(steps, 1)), ValLoss: va, IdentityValLoss: vi, LR: lr,
		Records: rec.N, RecordsMB: float64(rec.Bytes()+d.val.Bytes()) / 1e6}
	if d.Log != nil {
		fmt.Fprintf(d.Log, "epoch %d: train loss %.5f, validation loss %.5f (identity %.5f)\n", d.Epoch, d.last.TrainLoss, va, vi)
	}
	return nil
}

// Run distils until Config.Epochs, checkpointing every epoch, and writes
// the adaptor directory (adaptor.json, adaptor.npz) into Dir. On a
// cancelled context it checkpoints and returns train.ErrInterrupted.
func (d *Distiller) Run(ctx context.Context) error {
	if d.Source != nil {
		defer d.Source.leave()
	}
	l := &train.Loop{Dir: d.Dir, Steps: d.Config.Epochs, Done: d.Epoch, Step: d.epoch,
		Checkpoint: d.checkpoint(), CheckpointEvery: 1, LogEvery: 1,
		Log:      func(int, float64) any { return d.last },
		Progress: d.Progress,
		Status: func() string {
			return fmt.Sprintf("val loss %.5f (identity %.5f)", d.last.ValLoss, d.last.IdentityValLoss)
		},
	}
	if err := l.Run(ctx); err != nil {
		return err
	}
	if d.val == nil { // resumed at the end: measure once more
		val, err := d.validation()
		if err != nil {
			return err
		}
		if d.last.ValLoss, d.last.IdentityValLoss, err = d.Validate(val); err != nil {
			return err
		}
	}
	return Save(d.Dir, d.Adaptor, d.Manifest())
}

// Manifest describes the adaptor as distilled so far.
func (d *Distiller) Manifest() Manifest {
	return Manifest{Adaptor: d.Adaptor.Config(), Teacher: d.Teacher.Fingerprint(), TeacherDir: d.TeacherDir,
		Sampler: d.Config.Sampler, Steps: d.Adaptor.Config().Steps, StepCounts: d.Config.StepCounts, Strength: runStrength(d.Config.Strength), Clock: d.clock.Format(), Config: d.Config, Epochs: d.Epoch,
		ValLoss: d.last.ValLoss, IdentityValLoss: d.last.IdentityValLoss, Params: d.Adaptor.Params().Count(), FLOPs: d.Adaptor.FLOPs(),
		Seconds: d.Seconds}
}

// edits returns the conditioning of n trajectories of an editor (UseEdits)
// and their sources (n images).
func (d *Distiller) edits(n int, rng *rand.Rand) (diffusion.Cond, []float32, error) {
	c, h, w := d.Inputs.Shape()
	per := c * h * w
	caps := make([]string, n)
	img := make([]float32, n*per)
	// init holds every trajectory's source, also where the branch drops
	// it from the conditioning: an edit from the source starts all three
	// of guidance's branches from the same noised source.
	init := make([]float32, n*per)
	if g := d.Student; g != nil {
		st, si := make([]float64, n), make([]float64, n)
		for i := range n {
			j := rng.IntN(len(d.Captions))
			caps[i] = d.Captions[j]
			d.Inputs.Image(j, img[i*per:(i+1)*per])
			st[i] = g.TextScale[0] + (g.TextScale[1]-g.TextScale[0])*rng.Float64()
			si[i] = g.ImageScale[0] + (g.ImageScale[1]-g.ImageScale[0])*rng.Float64()
		}
		copy(init, img)
		cond, err := diffusion.PromptCond(d.Text, caps)
		if err != nil {
			return cond, nil, err
		}
		cond.Image = tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(img))
		cond.ClassVector, err = diffusion.GuidanceVector(d.Teacher, st, si)
		return cond, init, err
	}
	for i := range n {
		j := rng.IntN(len(d.Captions))
		d.Inputs.Image(j, init[i*per:(i+1)*per])
		switch rng.IntN(3) {
		case 0:
			caps[i] = d.Captions[j]
			copy(img[i*per:(i+1)*per], init[i*per:(i+1)*per])
		case 1:
			copy(img[i*per:(i+1)*per], init[i*per:(i+1)*per]) // the instruction dropped
		}
		// case 2: both dropped, the image zeros
	}
	cond, err := diffusion.PromptCond(d.Text, caps)
	if err != nil {
		return cond, nil, err
	}
	cond.Image = tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(img))
	return cond, init, nil
}
