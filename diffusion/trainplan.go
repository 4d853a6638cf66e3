package diffusion

import (
	"flag"
	"fmt"
	"math"
	"slices"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// NewModelFor builds the U-Net of config cfg (named name in errors) with
// weights from c.Seed, for training on data with c. It reports, before
// anything is allocated at scale, data the model cannot take (channels,
// image size), weights too large, and a training step beyond the memory
// left, naming the settings.
func NewModelFor(cfg unet.Config, name string, data *datasets.Images, c TrainConfig) (*unet.Model, error) {
	if err := checkFor(cfg, "-config "+name, data); err != nil {
		return nil, err
	}
	m, err := unet.New(cfg, c.Seed)
	if err != nil {
		return nil, fmt.Errorf("-config %s: %w", name, err)
	}
	return m, checkMemory(m, "-config "+name, data, c)
}

// StartModels returns the models a new run starts from: with c.Init a
// model directory's U-Net and, for a UNet2DConditionModel, its text
// encoder, weights and all (fine-tuning; config must then be empty, the
// model's own config being the run's; with c.Deepen, that U-Net deepened
// by unet.Model.Deepen); otherwise the U-Net of config (an
// embedded name, a config.json or a model directory) initialised from
// c.Seed and, for a text config, a new text encoder (NewTextFor). Either
// way it reports data the models cannot take and a step beyond the
// memory left before training starts.
//
// With c.Guidance the run is a guidance distillation: the student of its
// teacher (StudentFrom, which records the teacher's fingerprint in
// c.Guidance), with neither config nor c.Init.
func StartModels(config string, data *datasets.Images, c TrainConfig) (*unet.Model, *textenc.Prompter, error) {
	if c.Guidance != nil {
		if config != "" || c.Init != "" || c.Deepen {
			return nil, nil, fmt.Errorf("guidance distillation starts from its teacher %s: -config, -init and -deepen cannot change it", c.Guidance.Teacher)
		}
		m, text, err := StudentFrom(c.Guidance, data, c.Seed)
		if err != nil {
			return nil, nil, err
		}
		return m, text, checkMemory(m, "student of "+c.Guidance.Teacher, data, c)
	}
	if c.Deepen && c.Init == "" {
		return nil, nil, fmt.Errorf("-deepen deepens the model of -init: give -init")
	}
	if c.Init == "" {
		cfg, err := unet.ConfigFrom(config)
		if err != nil {
			return nil, nil, err
		}
		m, err := NewModelFor(cfg, config, data, c)
		if err != nil || !cfg.Conditional() {
			return m, nil, err
		}
		text, err := NewTextFor(cfg, data, c)
		return m, text, err
	}
	if config != "" {
		return nil, nil, fmt.Errorf("-init %s starts from that model and its config; -config %s cannot change it", c.Init, config)
	}
	m, err := unet.Load(c.Init)
	if err != nil {
		return nil, nil, fmt.Errorf("-init: %w", err)
	}
	name := "-init " + c.Init
	if in := InputChannels(data); data.Inputs != nil && m.Config.InChannels == data.C && m.Config.OutChannels == data.C {
		// A text-to-image model becomes an editor: the source image's
		// channels start at zero (InstructPix2Pix, Sec. 3.3).
		if m, err = m.WidenInput(in); err != nil {
			return nil, nil, fmt.Errorf("-init %s: %w", c.Init, err)
		}
	}
	if c.Deepen {
		// One more ResNet and attention per block, started as identities
		// (unet.Model.Deepen).
		if m, err = m.Deepen(c.Seed ^ 0xdee9); err != nil {
			return nil, nil, fmt.Errorf("-init %s -deepen: %w", c.Init, err)
		}
		name += " -deepen"
	}
	if err := checkFor(m.Config, name, data); err != nil {
		return nil, nil, err
	}
	var text *textenc.Prompter
	if m.Config.Conditional() {
		if text, err = textenc.LoadPrompter(textenc.ModelDir(c.Init)); err != nil {
			return nil, nil, fmt.Errorf("-init %s: its text encoder: %w", c.Init, err)
		}
		// Words of the new captions that the encoder does not know get
		// token embeddings drawn from the seed.
		if text, err = text.Extend(captionWords(data), c.Seed^0x7e47); err != nil {
			return nil, nil, fmt.Errorf("-init %s: its text encoder: %w", c.Init, err)
		}
	}
	return m, text, checkMemory(m, name, data, c)
}

// checkFor reports data that a U-Net of config cfg (named name) cannot
// train on: other channels, or an image size its blocks cannot halve.
func checkFor(cfg unet.Config, name string, data *datasets.Images) error {
	ch, h, w := data.Shape()
	if in := InputChannels(data); in != cfg.InChannels || ch != cfg.OutChannels {
		return fmt.Errorf("-data %s has %s; %s takes %d and gives %d", data.Name, channelsOf(data), name, cfg.InChannels, cfg.OutChannels)
	}
	if err := cfg.CheckSize(h, w); err != nil {
		return fmt.Errorf("-data %s with %s: %w", data.Name, name, err)
	}
	return nil
}

// InputChannels returns the channels a U-Net trained on data takes: the
// images', and those of the input images an editor is conditioned on.
func InputChannels(data *datasets.Images) int {
	if data.Inputs != nil {
		return data.C + data.Inputs.C
	}
	return data.C
}

// channelsOf describes data's channels for messages.
func channelsOf(data *datasets.Images) string {
	if data.Inputs != nil {
		return fmt.Sprintf("%d channels and input images of %d", data.C, data.Inputs.C)
	}
	return fmt.Sprintf("%d channels", data.C)
}

// checkMemory reports a training step of m on data with c beyond the
// memory left.
func checkMemory(m *unet.Model, name string, data *datasets.Images, c TrainConfig) error {
	ch, h, w := data.Shape()
	need, err := TrainMemory(m.Config, c.BatchSize, h, w)
	if err != nil {
		return err
	}
	return sysmem.Check(need, fmt.Sprintf("-batch %d (training %s, %d parameters, on %d×%d×%d images)", c.BatchSize, name, m.Params.Count(), ch, h, w))
}

// TextTokens is the length of the prompts of the text encoders NewTextFor
// makes: the start and end tokens and up to 14 words.
const TextTokens = 16

// NewTextFor returns the text encoder a new run of a UNet2DConditionModel
// of config cfg trains jointly with it on data's captions: a tokenizer over
// the captions' words and a small CLIP text model (textenc.ToyConfig) as
// wide as the U-Net's cross_attention_dim, initialised from c.Seed.
func NewTextFor(cfg unet.Config, data *datasets.Images, c TrainConfig) (*textenc.Prompter, error) {
	if data.Captions == nil {
		return nil, fmt.Errorf("-data %s has no captions: a text-conditioned U-Net (%s) trains on captioned images (-data captions)", data.Name, unet.ClassUNet2DCondition)
	}
	tok, err := textenc.NewTokenizer(captionWords(data))
	if err != nil {
		return nil, fmt.Errorf("-data %s: %w", data.Name, err)
	}
	enc, err := textenc.New(textenc.ToyConfig(tok.Size(), cfg.CrossAttentionDim, TextTokens), c.Seed^0x7e47)
	if err != nil {
		return nil, err
	}
	return textenc.NewPrompter(enc, tok)
}

// captionWords returns the words of data's captions, sorted.
func captionWords(data *datasets.Images) []string {
	seen := map[string]bool{}
	var words []string
	for _, cap := range data.Captions {
		for _, w := range textenc.Words(cap) {
			if !seen[w] {
				seen[w] = true
				words = append(words, w)
			}
		}
	}
	slices.Sort(words)
	return words
}

// TextNote describes a text encoder trained with a U-Net for a command's
// first line (empty without one).
func TextNote(text *textenc.Prompter) string {
	if text == nil {
		return ""
	}
	return fmt.Sprintf(", with a text encoder of %d parameters over %d words trained jointly", text.Encoder.Params.Count(), len(text.Tokenizer.IDs))
}

// Register adds the training settings to fs as flags (-steps, -batch, -lr,
// …), with c's values as their defaults: the train command's flags.
func (c *TrainConfig) Register(fs *flag.FlagSet) {
	d := *c
	fs.IntVar(&c.Steps, "steps", d.Steps, "training steps (with -resume: the new total)")
	fs.IntVar(&c.BatchSize, "batch", d.BatchSize, "batch size")
	fs.Float64Var(&c.LR, "lr", d.LR, "peak learning rate")
	fs.IntVar(&c.Warmup, "warmup", d.Warmup, "learning-rate warm-up steps")
	fs.StringVar(&c.Decay, "decay", d.Decay, "learning-rate decay after warm-up: constant or cosine")
	fs.StringVar(&c.Optimizer, "optimizer", d.Optimizer, "adam or adamw")
	fs.Float64Var(&c.WeightDecay, "weight-decay", d.WeightDecay, "weight decay")
	fs.Float64Var(&c.EMADecay, "ema", d.EMADecay, "EMA decay of the weights used for sampling")
	fs.Float64Var(&c.GradClip, "clip", d.GradClip, "gradient global-norm clip (0: none)")
	fs.Float64Var(&c.CondDropout, "cond-dropout", d.CondDropout, "probability of the null class or empty caption (classifier-free guidance); for an editor, of each of: the text dropped, the image dropped, both (default 0.05 there)")
	fs.Float64Var(&c.MinSNRGamma, "min-snr", d.MinSNRGamma, "min-SNR-gamma loss weighting (0: none)")
	fs.Uint64Var(&c.Seed, "seed", d.Seed, "seed of initialisation, data order and noise")
	fs.IntVar(&c.MaxTimestep, "max-timestep", d.MaxTimestep, "train on timesteps below this one only (0: the whole schedule): a model for the low-noise steps an edit from its source runs")
	fs.BoolVar(&c.Equivariant, "equivariant", d.Equivariant, "equivariant fine-tuning of an editor: the same random affine transform on the source and the target of each pair (FAIRY)")
	fs.IntVar(&c.Clauses, "clauses", d.Clauses, "encode each caption clause by clause, cut at \"and\", into this many clauses (an editor's two-change instructions; 0: the -init model's own way, else the whole caption)")
	fs.StringVar(&c.Init, "init", d.Init, "fine-tune: start from this model directory's weights (U-Net and text encoder) and config instead of -config's with -seed's weights")
	fs.BoolVar(&c.Deepen, "deepen", d.Deepen, "with -init: one more ResNet (and attention) in every down and up block, each added as an identity so that training starts from what the -init model computes (layers_per_block + 1)")
	fs.IntVar(&c.CheckpointEvery, "checkpoint-every", d.CheckpointEvery, "steps between checkpoints")
	fs.IntVar(&c.SampleEvery, "sample-every", d.SampleEvery, "steps between sample grids (0: none)")
	fs.IntVar(&c.LogEvery, "log-every", d.LogEvery, "steps between metrics lines")
	fs.StringVar(&c.Schedule.PredictionType, "prediction", d.Schedule.PredictionType, "epsilon, v_prediction or sample (with -init: the model's own unless given)")
	fs.StringVar(&c.Schedule.BetaSchedule, "beta-schedule", d.Schedule.BetaSchedule, "linear, scaled_linear, squaredcos_cap_v2 or sigmoid (with -init: the model's own unless given)")
	fs.BoolVar(&c.Schedule.RescaleBetasZeroSNR, "zero-snr", d.Schedule.RescaleBetasZeroSNR, "rescale betas to zero terminal SNR (needs -prediction v_prediction or sample)")
}

// EditDropout is the conditioning dropout an editor trains with by default:
// InstructPix2Pix's 5% for each of the text, the image and both (Brooks et
// al., CVPR 2023, Sec. 3.3).
const EditDropout = 0.05

// TrainConfig holds the hyperparameters of a training run. It is saved in
// every checkpoint, so a resumed run continues with the same settings.
type TrainConfig struct {
	Steps       int     `json:"steps"`
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"learning_rate"`
	Warmup      int     `json:"warmup_steps"`
	Decay       string  `json:"lr_decay"`  // "constant" or "cosine" (to 0 at Steps)
	Optimizer   string  `json:"optimizer"` // "adam" or "adamw"
	WeightDecay float64 `json:"weight_decay"`
	EMADecay    float64 `json:"ema_decay"`
	GradClip    float64 `json:"grad_clip"`    // global-norm clip; 0: none
	CondDropout float64 `json:"cond_dropout"` // probability of training on the null class
	MinSNRGamma float64 `json:"min_snr_gamma"`
	Seed        uint64  `json:"seed"`
	// MaxTimestep, when not 0, draws the training timesteps from [0,
	// MaxTimestep) instead of the whole schedule: a model fine-tuned for
	// the low-noise part of sampling alone, as an edit started from its
	// source runs it (SDEdit), the way eDiff-I trains denoisers expert in
	// one range of noise levels (Balaji et al., arXiv 2211.01324).
	MaxTimestep int `json:"max_timestep,omitempty"`
	// Init is the model directory a fine-tuning run started from (empty:
	// weights drawn from Seed).
	Init string `json:"init,omitempty"`
	// Deepen adds one ResNet (and attention) to every down and up block
	// of the Init model, as identities (unet.Model.Deepen).
	Deepen bool `json:"deepen,omitempty"`
	// Guidance, when set, makes the run a guidance distillation: the
	// model is a student learning its teacher's two-scale guided output.
	Guidance *GuidanceDistillation `json:"guidance_distillation,omitempty"`
	// Equivariant applies one random affine transform (FAIRY's ranges:
	// rotation and shear within ±5°, shifts within ±5%, scale 0.95 to
	// 1.05) to both images of each edit pair, so that an editor learns to
	// follow motion (FAIRY, Sec. 3.3).
	Equivariant bool `json:"equivariant,omitempty"`
	// Clauses, when not 0, makes the text encoder read each caption
	// clause by clause (textenc.Prompter.Clauses), so that the U-Net sees
	// the clauses of an instruction it never saw together as it saw each
	// in others; 0 keeps the -init model's own way (the whole caption for
	// a new model).
	Clauses int `json:"text_clauses,omitempty"`

	CheckpointEvery int `json:"checkpoint_every"`
	SampleEvery     int `json:"sample_every"` // write a sample grid every so many steps; 0: never
	LogEvery        int `json:"log_every"`

	Schedule ScheduleConfig `json:"schedule"`
}

// DefaultTrainConfig returns the settings of the reference MNIST run.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		Steps: 3000, BatchSize: 64, LR: 1e-3, Warmup: 200, Decay: "cosine", Optimizer: "adamw",
		WeightDecay: 0, EMADecay: 0.999, GradClip: 1, CondDropout: 0.1, Seed: 0,
		CheckpointEvery: 250, SampleEvery: 1000, LogEvery: 10, Schedule: DefaultScheduleConfig(),
	}
}

// Validate reports the first invalid setting.
func (c TrainConfig) Validate() error {
	switch {
	case c.Steps <= 0:
		return fmt.Errorf("steps %d must be positive", c.Steps)
	case c.BatchSize <= 0:
		return fmt.Errorf("batch size %d must be positive", c.BatchSize)
	case c.LRSchedule().Validate() != nil:
		return c.LRSchedule().Validate()
	case c.Optimizer != "adam" && c.Optimizer != "adamw":
		return fmt.Errorf("optimizer %q is not adam or adamw", c.Optimizer)
	case !(c.EMADecay >= 0 && c.EMADecay < 1):
		return fmt.Errorf("ema decay %g must lie in [0, 1)", c.EMADecay)
	case !(c.CondDropout >= 0 && c.CondDropout < 1):
		return fmt.Errorf("conditioning dropout %g must lie in [0, 1)", c.CondDropout)
	case c.Schedule.RescaleBetasZeroSNR && c.Schedule.PredictionType == PredictEpsilon:
		return fmt.Errorf("a zero-terminal-SNR schedule needs v_prediction or sample prediction: ε is undefined where the signal is zero (Lin et al., WACV 2024)")
	case !finiteNonNeg(c.GradClip) || !finiteNonNeg(c.WeightDecay) || !finiteNonNeg(c.MinSNRGamma):
		return fmt.Errorf("grad clip %g, weight decay %g and min-SNR gamma %g must be finite and not negative", c.GradClip, c.WeightDecay, c.MinSNRGamma)
	case c.MaxTimestep < 0 || c.MaxTimestep > c.Schedule.NumTrainTimesteps:
		return fmt.Errorf("max timestep %d must lie in [0, %d] (0: the whole schedule)", c.MaxTimestep, c.Schedule.NumTrainTimesteps)
	case c.Clauses < 0 || c.Clauses > textenc.MaxClauses:
		return fmt.Errorf("text clauses %d must lie in [0, %d]", c.Clauses, textenc.MaxClauses)
	case c.CheckpointEvery <= 0 || c.LogEvery <= 0 || c.SampleEvery < 0:
		return fmt.Errorf("checkpoint and log intervals must be positive")
	case c.Guidance != nil:
		return c.Guidance.Validate()
	}
	return nil
}

// finiteNonNeg reports whether v is a finite number ≥ 0 (NaN is not).
func finiteNonNeg(v float64) bool { return v >= 0 && !math.IsInf(v, 1) }

// LRSchedule returns the run's learning-rate schedule.
func (c TrainConfig) LRSchedule() train.LR {
	return train.LR{Peak: c.LR, Warmup: c.Warmup, Decay: c.Decay, Steps: c.Steps}
}
