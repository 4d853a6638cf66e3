package diffusion

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// Trainer trains a U-Net's denoiser on an image set: it holds the model, its
// EMA, the optimiser, the data order and the random state, all of which a
// checkpoint saves.
type Trainer struct {
	Dir      string // run directory
	Config   TrainConfig
	Model    *unet.Model
	EMA      *nn.EMA
	Opt      *nn.Adam
	Schedule *Schedule
	Data     *datasets.Images
	Loader   *datasets.Loader
	Step     int
	// Text is the text encoder of a UNet2DConditionModel with its
	// vocabulary, trained jointly with the U-Net on the data's captions
	// (nil for a UNet2DModel).
	Text *textenc.Prompter

	// Progress, when set, is called after every step.
	Progress func(train.Progress)
	// Grid, when set, receives a sample grid drawn from the EMA weights
	// every Config.SampleEvery steps (see GridSamples); the train command
	// writes it as a PNG.
	Grid func(step int, samples *tensor.Dense, cols int) error
	// Notes are what Resume did that the user should know (a checkpoint
	// adopted because the latest was lost, data not checked); Note, when
	// set, receives what Run does to the run directory before training.
	Notes []string
	Note  func(string)

	// teacher and nullText are a guidance distillation's teacher and the
	// empty text's embedding (nil otherwise).
	teacher  *unet.Model
	nullText *tensor.Dense

	rngSrc   *rand.PCG
	rng      *rand.Rand
	graph    *TrainGraph
	params   *nn.Params // what the optimiser updates: the U-Net's, and Text's
	emaText  *textenc.Prompter
	null     int64
	emaModel *unet.Model
	b        batch
	lastLoss float64
	lastNorm float64
	info     *datasets.Info // Data's description, computed once
	rewind   bool           // resumed from an earlier checkpoint than the latest
}

// dataInfo describes the training data (as recorded in checkpoints).
func (tr *Trainer) dataInfo() datasets.Info {
	if tr.info == nil {
		i := tr.Data.Info()
		tr.info = &i
	}
	return *tr.info
}

// TrainMemory estimates, as a lower bound, the bytes a training run of
// model config mc takes beyond its data, from shapes alone: the weights with
// their gradients, Adam's two moments and the EMA, and for batches of batch
// images of h×w the forward pass's activations (kept for the backward pass)
// and the batch's inputs and targets. Runs measured take 1.5 to 2 times
// as much.
func TrainMemory(mc unet.Config, batch, h, w int) (float64, error) {
	params, err := mc.ParamCount()
	if err != nil {
		return 0, err
	}
	act, err := mc.ActivationBytes(h, w)
	if err != nil {
		return 0, err
	}
	io := float64(4 * (mc.InChannels + mc.OutChannels) * h * w)
	return 5*4*params + float64(batch)*(act+2*io), nil
}

// ErrInterrupted is returned by Run when its context is cancelled; the run
// has been checkpointed and can be resumed. It is train.ErrInterrupted.
var ErrInterrupted = train.ErrInterrupted

// NewTrainer prepares a new run in dir (which must hold no checkpoint).
// Class-conditional models (num_class_embeds = K) are trained on labels in
// [0, K−1) with class K−1 as the null class of classifier-free guidance. A
// UNet2DConditionModel trains with a text encoder: see NewTextTrainer.
func NewTrainer(dir string, m *unet.Model, data *datasets.Images, c TrainConfig) (*Trainer, error) {
	return NewTextTrainer(dir, m, nil, data, c)
}

// NewTextTrainer prepares a new run in dir (which must hold no checkpoint)
// of a UNet2DConditionModel m and its text encoder text, trained jointly
// on the captions of data (latent diffusion's trainable conditioning
// stage, Rombach et al., CVPR 2022, Sec. 3.3). The empty caption is the
// unconditional input of classifier-free guidance: Config.CondDropout of
// the captions are replaced by it. For other models text must be nil and
// it is NewTrainer.
func NewTextTrainer(dir string, m *unet.Model, text *textenc.Prompter, data *datasets.Images, c TrainConfig) (*Trainer, error) {
	switch has, err := train.HasCheckpoint(dir); {
	case err != nil:
		return nil, err
	case has:
		return nil, fmt.Errorf("run %s already has a checkpoint: resume it or choose another directory", dir)
	}
	return newTrainer(dir, m, text, data, c)
}

// CheckText reports what keeps a text encoder from serving a U-Net: a
// model without cross-attention given one, or one with cross-attention
// given none, or widths that disagree.
func CheckText(mc unet.Config, text *textenc.Prompter) error {
	switch {
	case !mc.Conditional() && text != nil:
		return fmt.Errorf("a text encoder for a %s, which has no cross-attention", unet.ClassUNet2D)
	case mc.Conditional() && text == nil:
		return fmt.Errorf("a %s attends to text: it needs a text encoder", unet.ClassUNet2DCondition)
	case text != nil && text.Width() != mc.CrossAttentionDim:
		return fmt.Errorf("the text encoder's hidden_size %d is not the U-Net's cross_attention_dim %d", text.Width(), mc.CrossAttentionDim)
	}
	return nil
}

func newTrainer(dir string, m *unet.Model, text *textenc.Prompter, data *datasets.Images, c TrainConfig) (*Trainer, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("training config: %w", err)
	}
	s, err := NewSchedule(c.Schedule)
	if err != nil {
		return nil, err
	}
	mc := m.Config
	ch, h, w := data.Shape()
	if InputChannels(data) != mc.InChannels || ch != mc.OutChannels {
		return nil, fmt.Errorf("%s has %s, the model takes %d and gives %d", data.Name, channelsOf(data), mc.InChannels, mc.OutChannels)
	}
	if err := mc.CheckSize(h, w); err != nil {
		return nil, fmt.Errorf("data %s: %w", data.Name, err)
	}
	need, err := TrainMemory(mc, c.BatchSize, h, w)
	if err != nil {
		return nil, err
	}
	if err := sysmem.Check(need, fmt.Sprintf("training with batch size %d on %d×%d×%d images", c.BatchSize, ch, h, w)); err != nil {
		return nil, err
	}
	if err := CheckText(mc, text); err != nil {
		return nil, err
	}
	if c.Clauses != 0 {
		if text == nil || c.Guidance != nil {
			return nil, fmt.Errorf("-clauses %d: only a text encoder trained with the U-Net encodes clause by clause", c.Clauses)
		}
		text.Clauses = c.Clauses
	}
	if c.Equivariant && data.Inputs == nil {
		return nil, fmt.Errorf("equivariant fine-tuning transforms edit pairs: -data %s has no input images", data.Name)
	}
	if data.Inputs != nil {
		if text == nil {
			return nil, fmt.Errorf("%s pairs input images with instructions: it trains a text-conditioned editor (%s)", data.Name, unet.ClassUNet2DCondition)
		}
		if 3*c.CondDropout >= 1 {
			return nil, fmt.Errorf("conditioning dropout %g: an editor drops the text, the image and both with this probability each, so it must be below 1/3", c.CondDropout)
		}
	}
	tr := &Trainer{Dir: dir, Config: c, Model: m, Text: text, Schedule: s, Data: data, null: -1}
	tokens := 0
	if text != nil {
		if data.Captions == nil {
			return nil, fmt.Errorf("%s has no captions to train a text-conditioned model on", data.Name)
		}
		// Every caption must tokenize: report the first that does not
		// before training starts.
		seen := map[string]bool{}
		for i, cap := range data.Captions {
			if seen[cap] {
				continue
			}
			seen[cap] = true
			if _, err := text.IDs([]string{cap}); err != nil {
				return nil, fmt.Errorf("%s, caption of image %d: %w", data.Name, i, err)
			}
		}
		tokens = text.Tokens()
	}
	if k := mc.NumClasses(); k > 0 {
		if data.Labels == nil {
			return nil, fmt.Errorf("class-conditional model but %s has no labels", data.Name)
		}
		if data.Classes > k-1 {
			return nil, fmt.Errorf("%s has %d classes; the model's %d class embeddings leave room for %d and a null class", data.Name, data.Classes, k, k-1)
		}
		tr.null, _ = NullClass(k)
	}
	if tr.Loader, err = datasets.NewLoader(data, c.BatchSize, c.Seed); err != nil {
		return nil, err
	}
	var enc *textenc.Model
	if text != nil {
		enc = text.Encoder
	}
	if g := c.Guidance; g != nil {
		if data.Inputs == nil || text == nil {
			return nil, fmt.Errorf("guidance distillation trains an editor on edit pairs: -data %s has no input images", data.Name)
		}
		if mc.ClassProjection() != 2*mc.BlockOutChannels[0] {
			return nil, fmt.Errorf("guidance distillation: the model is not a student (no projection class embedding of width %d)", 2*mc.BlockOutChannels[0])
		}
		if tr.teacher, err = loadTeacher(g); err != nil {
			return nil, err
		}
		// The targets are the teacher's outputs: the student must share
		// its parameterisation and noise schedule.
		ts, err := LoadScheduleConfig(g.Teacher)
		if err != nil {
			return nil, fmt.Errorf("guidance distillation's teacher: %w", err)
		}
		if !reflect.DeepEqual(ts, c.Schedule) {
			return nil, fmt.Errorf("guidance distillation: the run's noise schedule (%s, %s) is not its teacher's (%s, %s, in %s): a student learns its teacher's outputs under its schedule", c.Schedule.PredictionType, c.Schedule.BetaSchedule, ts.PredictionType, ts.BetaSchedule, g.Teacher)
		}
		if tc := tr.teacher.Config; tc.InChannels != mc.InChannels || tc.OutChannels != mc.OutChannels {
			return nil, fmt.Errorf("guidance distillation: the teacher %s takes %d channels and gives %d, the student %d and %d", g.Teacher, tc.InChannels, tc.OutChannels, mc.InChannels, mc.OutChannels)
		}
		if tr.nullText, err = text.Embed([]string{""}); err != nil {
			return nil, err
		}
		enc = nil // the text encoder is the teacher's, frozen: the graph takes its embeddings
	}
	if tr.graph, err = NewTrainGraph(m, enc, c.BatchSize, h, w, tokens); err != nil {
		return nil, err
	}
	tr.params = tr.graph.Params()
	tr.Opt = nn.NewAdam(c.LR)
	if c.Optimizer == "adamw" {
		tr.Opt.Decoupled = true
	}
	tr.Opt.WeightDecay = c.WeightDecay
	tr.EMA = nn.NewEMA(tr.params, c.EMADecay)
	tr.EMA.Warmup = true
	tr.rngSrc = rand.NewPCG(c.Seed, 0x7a1)
	tr.rng = rand.New(tr.rngSrc)
	return tr, nil
}

// ResumeTrainer restores a run from its latest checkpoint: the model
// configuration and training settings come from the checkpoint. It is
// Resume with the default options.
func ResumeTrainer(dir string, data *datasets.Images) (*Trainer, error) {
	return Resume(dir, data, ResumeOptions{From: -1})
}

// ResumeOptions say how a run is resumed.
type ResumeOptions struct {
	// From is the step of the checkpoint to continue from; −1 (or any
	// negative value): the latest, or the newest complete one when the
	// latest file is missing or names an incomplete checkpoint. Continuing
	// from an earlier checkpoint removes the later ones when Run starts.
	From int
	// ForceData continues on other images than the run was trained on.
	ForceData bool
}

// RunData returns the description of the data a run was trained on, as
// its checkpoint (the latest, or that of step from when from ≥ 0)
// records it; its Source is the data specification to resume with
// (datasets.Open), empty when an older version wrote the checkpoint.
func RunData(dir string, from int) (datasets.Info, error) {
	ck, _, err := train.Find(dir, max(from, -1), checkpointNames...)
	if err != nil {
		return datasets.Info{}, err
	}
	st, err := readCheckpointState(ck)
	if err != nil || st.Data == nil {
		return datasets.Info{}, err
	}
	return *st.Data, nil
}

// Resume restores a run from a checkpoint (see ResumeOptions), verifying
// it: every state field in range and consistent with the step and the
// directory's name, every weight, EMA and optimiser array present with its
// shape. A checkpoint that does not check out is an error naming the file
// and the problem, and the newest earlier complete checkpoint to continue
// from instead. The data must be the run's (its description is recorded in
// every checkpoint) unless o.ForceData is set.
func Resume(dir string, data *datasets.Images, o ResumeOptions) (*Trainer, error) {
	if o.From < 0 {
		o.From = -1
	}
	ck, note, err := train.Find(dir, o.From, checkpointNames...)
	if err != nil {
		return nil, err
	}
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	damaged := func(err error) error { return train.Damaged(dir, ck, err, checkpointNames, nil) }
	st, err := readCheckpointState(ck)
	if err != nil {
		return nil, damaged(err)
	}
	got := data.Info()
	if st.Data == nil {
		notes = append(notes, fmt.Sprintf("checkpoint %s records no data specification (an older version wrote it): the data could not be checked", ck))
	} else if !st.Data.Same(got) {
		if !o.ForceData {
			give := "the run's data"
			if st.Data.Source != "" {
				give = "-data " + st.Data.Source
			}
			return nil, fmt.Errorf("run %s was trained on %s; the data given is %s: give %s, or force a resume on these images", dir, st.Data, got, give)
		}
		notes = append(notes, fmt.Sprintf("continuing run %s, trained on %s, on other data: %s", dir, st.Data, got))
	}
	cfg, err := unet.LoadConfig(filepath.Join(ck, "model", unet.ConfigFile))
	if err != nil {
		return nil, damaged(err)
	}
	m, err := unet.New(cfg, 0)
	if err != nil {
		return nil, err
	}
	var text *textenc.Prompter
	if cfg.Conditional() {
		if text, err = textenc.LoadPrompter(textenc.ModelDir(filepath.Join(ck, "model"))); err != nil {
			return nil, damaged(err)
		}
	}
	tr, err := newTrainer(dir, m, text, data, st.Config)
	if err != nil {
		return nil, err
	}
	tr.info = &got
	if err := tr.checkpoint().Load(ck); err != nil {
		return nil, damaged(err)
	}
	if latest, err := train.Latest(dir); o.From >= 0 && (err != nil || latest != ck) {
		tr.rewind = true
	}
	tr.Notes = notes
	return tr, nil
}

// Metrics is one line of a run's metrics.jsonl.
type Metrics struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	GradNorm float64 `json:"grad_norm"`
	StepsPS  float64 `json:"steps_per_s"`
	Epoch    int     `json:"epoch"`
}

// batch draws the next training batch: noised samples, timesteps, labels
// or captions, targets and loss weights.
type batch struct {
	x0, noise, xt, target []float32
	// src is the batch's input images (an editor's sources), when the
	// data has inputs.
	src      []float32
	t        []float64
	labels   []int64
	captions []string
	weights  []float32
	// textScale and imageScale are a guidance distillation's scales.
	textScale, imageScale []float64
}

func (tr *Trainer) nextBatch(b *batch) {
	c := tr.Config
	ch, h, w := tr.Data.Shape()
	per := ch * h * w
	n := c.BatchSize
	if b.x0 == nil {
		b.x0, b.noise, b.xt, b.target = make([]float32, n*per), make([]float32, n*per), make([]float32, n*per), make([]float32, n*per)
		b.t, b.weights = make([]float64, n), make([]float32, n)
		if tr.null >= 0 {
			b.labels = make([]int64, n)
		}
	}
	idx := tr.Loader.Next(b.x0, b.labels)
	if tr.Data.Inputs != nil {
		if b.src == nil {
			b.src = make([]float32, n*per)
		}
		tr.Data.Inputs.Batch(idx, b.src, nil)
	}
	if tr.Text != nil {
		b.captions = b.captions[:0]
		for _, i := range idx {
			b.captions = append(b.captions, tr.Data.Captions[i])
		}
	}
	if c.Equivariant {
		tmp := make([]float32, h*w)
		for i := range n {
			a := drawAffine(tr.rng, h, w)
			a.apply(b.x0[i*per:(i+1)*per], ch, h, w, tmp)
			a.apply(b.src[i*per:(i+1)*per], ch, h, w, tmp)
		}
	}
	tmax := tr.Schedule.T()
	if c.MaxTimestep > 0 {
		tmax = c.MaxTimestep
	}
	for i := 0; i < n; i++ {
		t := tr.rng.IntN(tmax)
		b.t[i] = float64(t)
		e := b.noise[i*per : (i+1)*per]
		for k := range e {
			e[k] = float32(tr.rng.NormFloat64())
		}
		if tr.null >= 0 && tr.rng.Float64() < c.CondDropout {
			b.labels[i] = tr.null
		}
		if g := c.Guidance; g != nil {
			// The student sees every prompt and image: guidance is in
			// its target, at these scales.
			if b.textScale == nil {
				b.textScale, b.imageScale = make([]float64, n), make([]float64, n)
			}
			b.textScale[i] = g.TextScale[0] + (g.TextScale[1]-g.TextScale[0])*tr.rng.Float64()
			b.imageScale[i] = g.ImageScale[0] + (g.ImageScale[1]-g.ImageScale[0])*tr.rng.Float64()
		} else if tr.Text != nil {
			r := tr.rng.Float64()
			if b.src == nil {
				if r < c.CondDropout {
					b.captions[i] = "" // the unconditional input
				}
			} else {
				// InstructPix2Pix's conditioning dropout (Brooks et al.,
				// CVPR 2023, Sec. 3.3; diffusers' training script):
				// with p the dropout, the text alone is dropped with
				// probability p, both with p, the image alone with p.
				// A dropped image is zeros.
				if r < 2*c.CondDropout {
					b.captions[i] = ""
				}
				if r >= c.CondDropout && r < 3*c.CondDropout {
					clear(b.src[i*per : (i+1)*per])
				}
			}
		}
		tr.Schedule.AddNoise(b.xt[i*per:(i+1)*per], b.x0[i*per:(i+1)*per], e, t)
		tr.Schedule.Target(b.target[i*per:(i+1)*per], b.x0[i*per:(i+1)*per], e, t)
		b.weights[i] = float32(tr.Schedule.MinSNRWeight(t, c.MinSNRGamma))
	}
}

// step is one optimisation step: a batch, the loss and its gradients, a
// clipped AdamW update and the EMA.
func (tr *Trainer) step(step int) error {
	c := tr.Config
	ch, h, w := tr.Data.Shape()
	shape := []int{c.BatchSize, ch, h, w}
	mkT := func(d []float32) *tensor.Dense { return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d)) }
	b := &tr.b
	tr.nextBatch(b)
	x := mkT(b.xt)
	if b.src != nil {
		x = ConcatChannels(x, mkT(b.src))
	}
	in := TrainInput{X: x, T: b.t, Cond: Cond{Labels: b.labels}, Target: mkT(b.target), Weights: b.weights}
	if tr.teacher != nil {
		if err := tr.guidanceInput(&in, shape); err != nil {
			return fmt.Errorf("step %d: %w", step, err)
		}
	} else if tr.Text != nil {
		ids, err := tr.Text.IDs(b.captions)
		if err != nil {
			return fmt.Errorf("step %d: %w", step, err)
		}
		in.IDs = ids
	}
	loss, err := tr.graph.Run(in)
	if err != nil {
		return fmt.Errorf("step %d: %w", step, err)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("step %d: loss is %v; stopped with the last checkpoint kept", step, loss)
	}
	names, grads := tr.graph.Gradients()
	norm := nn.GradNorm(grads)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return fmt.Errorf("step %d: gradient norm is %v; stopped with the last checkpoint kept", step, norm)
	}
	if c.GradClip > 0 {
		nn.ClipGradNorm(grads, c.GradClip)
	}
	tr.Opt.LR = c.LRSchedule().At(step)
	if err := tr.Opt.Update(tr.params, names, grads); err != nil {
		return fmt.Errorf("step %d: %w", step, err)
	}
	tr.EMA.Update(tr.params)
	if tr.Text != nil && tr.teacher == nil {
		tr.Text.Forget() // its weights moved
	}
	tr.Step = step + 1
	tr.lastLoss, tr.lastNorm = loss, norm
	return nil
}

// Run trains until Config.Steps, writing checkpoints, metrics
// (metrics.jsonl), sample grids (through Grid) and, at the end, the EMA
// model directory (model/). When ctx is cancelled it checkpoints and returns
// ErrInterrupted. A NaN or infinite loss or gradient stops the run with an
// error and leaves the last checkpoint as it was.
//
// Run holds the run directory's lock (fsutil.Lock) while it trains and
// exports, unless the calling process holds it already (the train command
// takes it before it reads the directory); another process writing the
// directory is refused, naming its process id.
func (tr *Trainer) Run(ctx context.Context) error {
	if tr.Dir != "" && !fsutil.Held(tr.Dir) {
		unlock, err := fsutil.Lock(tr.Dir)
		if err != nil {
			return err
		}
		defer unlock()
	}
	c := tr.Config
	l := &train.Loop{
		Dir: tr.Dir, Steps: c.Steps, Done: tr.Step,
		Step:       tr.step,
		Checkpoint: tr.checkpoint(), CheckpointEvery: c.CheckpointEvery,
		LogEvery: c.LogEvery,
		Log: func(step int, stepsPerSec float64) any {
			return Metrics{Step: step, Loss: tr.lastLoss, LR: tr.Opt.LR, GradNorm: tr.lastNorm, Epoch: tr.Loader.Epoch, StepsPS: stepsPerSec}
		},
		Progress: tr.Progress,
		Status:   func() string { return fmt.Sprintf("loss %.4f", tr.lastLoss) },
		Rewind:   tr.rewind,
		Note:     tr.Note,
	}
	if tr.Grid != nil && c.SampleEvery > 0 {
		l.Periodic = append(l.Periodic, train.Periodic{Every: c.SampleEvery, Do: func(step int) error {
			x, cols, err := tr.GridSamples()
			if err != nil {
				return fmt.Errorf("sample grid at step %d: %w", step, err)
			}
			return tr.Grid(step, x, cols)
		}})
	}
	if err := l.Run(ctx); err != nil {
		return err
	}
	return tr.ExportEMA(filepath.Join(tr.Dir, "model"))
}

// guidanceInput completes a guidance distillation's batch: the
// instructions' embeddings from the frozen text encoder, the scales'
// vector, and the teacher's guided prediction as the target, the loss
// unweighted.
func (tr *Trainer) guidanceInput(in *TrainInput, shape []int) error {
	b := &tr.b
	text, err := tr.Text.Embed(b.captions)
	if err != nil {
		return err
	}
	vec, err := GuidanceVector(tr.Model, b.textScale, b.imageScale)
	if err != nil {
		return err
	}
	target, err := guidedTarget(tr.teacher, b.xt, b.src, shape, b.t, text, tr.nullText, b.textScale, b.imageScale)
	if err != nil {
		return err
	}
	in.Cond.Text, in.Cond.ClassVector = text, vec
	in.Target = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(target))
	in.Weights = nil
	return nil
}
