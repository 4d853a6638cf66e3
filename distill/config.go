package distill

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/train"
)

// Config is a distillation run's settings.
type Config struct {
	Adaptor AdaptorConfig `json:"adaptor"`
	// Sampler and the adaptor's Steps are the operating point the adaptor
	// is distilled for (one adaptor per sampler and step count, as in the
	// paper); Clock its adaptor steps (ParseClock's syntax).
	Sampler string `json:"sampler"`
	Clock   string `json:"schedule"`
	// StepCounts, when set, distils one adaptor for several step counts
	// (the clock applied at each): every epoch's trajectories are split
	// evenly between them. Pair it with Adaptor.StepSize (not required: an
	// adaptor without it sees only the timestep).
	StepCounts []int `json:"step_counts,omitempty"`
	// Strength, in (0, 1), distils an editor's adaptor for edits that
	// start part-way from their source (edits.Options.Strength, SDEdit):
	// the trajectories run the last int(Steps·Strength) of the Steps
	// steps, from each trajectory's source image noised to the first of
	// them, and the clock covers those steps alone. 0 (or 1): every step,
	// from pure noise.
	Strength float64 `json:"strength,omitempty"`
	// Data is "unrolled" (teacher trajectories from pure noise, the
	// paper's method) or "noised" (real MNIST training images noised to
	// each step's timestep, the paper's ablation).
	Data string `json:"data"`
	// Training are the epochs, trajectories, optimiser settings and seed.
	Training
}

// Training are a distillation's budget and optimiser settings: the part a
// study's adaptors share (clockstudy.Config.Distill).
type Training struct {
	// Epochs of Trajectories fresh trajectories (or noised images) each;
	// Validation held-out trajectories (another seed) measure the loss
	// after each epoch.
	Epochs       int `json:"epochs"`
	Trajectories int `json:"trajectories"`
	Validation   int `json:"validation"`
	// Batch, LR and Decay are Adam's minibatch size, learning rate and its
	// decay (constant or cosine).
	Batch int     `json:"batch"`
	LR    float64 `json:"learning_rate"`
	Decay string  `json:"lr_decay"`
	Seed  uint64  `json:"seed"`
}

// DefaultConfig returns the distillation settings the toolkit starts from:
// a ResNet adaptor at the default cut, clock 2 at 8 DPM-Solver++(2M) steps,
// the paper's Adam and batch of 16 (App. Alg. 1), 30 epochs of 128 fresh
// trajectories, and a learning rate of 1e-3 with cosine decay. The paper
// trains 120 epochs at 1e-4; at the 30 that fit a toy teacher on two
// cores, 1e-3 with cosine decay ends at a 22% lower validation loss on the
// shipped teacher (0.0397 against 0.0506 for 1e-4 constant; distill -lr
// 1e-4 -decay constant gives the paper's). It is the one default of the
// toolkit: the distill command and the Clockwork study start from it.
func DefaultConfig() Config {
	return Config{Adaptor: AdaptorConfig{Kind: "resnet", Width: DefaultWidth("resnet"), Depth: 1, Steps: 8},
		Sampler: "dpmpp2m", Clock: "clock:2", Data: "unrolled",
		Training: Training{Epochs: 30, Trajectories: 128, Validation: 64, Batch: 16, LR: 1e-3, Decay: "cosine"}}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	c.Adaptor = c.Adaptor.WithDefaults()
	if err := c.Adaptor.Validate(); err != nil {
		return err
	}
	k, _ := c.Adaptor.kind()
	if !k.Trainable {
		return fmt.Errorf("a %s adaptor has nothing to train", c.Adaptor.Kind)
	}
	if _, err := diffusion.LookupSampler(c.Sampler); err != nil {
		return err
	}
	if c.Adaptor.StepSize != (len(c.StepCounts) > 0) {
		return fmt.Errorf("step-size conditioning and several step counts go together: an adaptor told the step size is distilled for several step counts (step_counts), and one for several step counts is told the step size (step_size); give both or neither")
	}
	if len(c.StepCounts) > 0 {
		if k.PerStep {
			return fmt.Errorf("a %s adaptor keeps parameters per step: it cannot serve several step counts", c.Adaptor.Kind)
		}
		if !slices.Contains(c.StepCounts, c.Adaptor.Steps) {
			return fmt.Errorf("step counts %v do not include the adaptor's %d steps", c.StepCounts, c.Adaptor.Steps)
		}
		for i, n := range c.StepCounts {
			if n < 1 || slices.Contains(c.StepCounts[:i], n) {
				return fmt.Errorf("step counts %v: each must be a positive step count, given once", c.StepCounts)
			}
		}
		if c.Trajectories < len(c.StepCounts) || c.Validation < len(c.StepCounts) {
			return fmt.Errorf("%d trajectories and %d validation trajectories cannot be split between %d step counts", c.Trajectories, c.Validation, len(c.StepCounts))
		}
	}
	if c.Strength != 0 && c.Strength != 1 {
		if _, err := diffusion.StepsFrom(c.Adaptor.Steps, c.Strength); err != nil {
			return err
		}
		switch {
		case len(c.StepCounts) > 0:
			return fmt.Errorf("strength %g with step counts %v: an adaptor for runs from the source is distilled for one step count", c.Strength, c.StepCounts)
		case k.PerStep:
			return fmt.Errorf("strength %g: a %s adaptor keeps parameters per step of a whole run; distil a ResNet or U-Net adaptor for runs from the source", c.Strength, c.Adaptor.Kind)
		case c.Data != "unrolled":
			return fmt.Errorf("strength %g: runs from the source are distilled from unrolled trajectories, not %s data", c.Strength, c.Data)
		}
	}
	count := 0
	for _, steps := range c.counts() {
		clock, err := c.clockAt(steps)
		if err != nil {
			return err
		}
		if err := clock.Validate(c.Adaptor.NeedsPrev()); err != nil {
			return err
		}
		if clock.Count() == 0 {
			return fmt.Errorf("clock %s has no adaptor step to train", clock)
		}
		if c.Adaptor.StepSize && clock.Adaptor[0] {
			return fmt.Errorf("an adaptor conditioned on the step size cannot run at step 1, which has no step before it: clock %s", clock)
		}
		count += clock.Count() * c.perCount(steps)
	}
	if c.Data != "unrolled" && c.Data != "noised" {
		return fmt.Errorf("distillation data %q is not unrolled or noised", c.Data)
	}
	switch {
	case c.Epochs < 1 || c.Epochs > 1_000_000:
		return fmt.Errorf("epochs %d: want 1 to 1000000", c.Epochs)
	case c.Trajectories < 1 || c.Validation < 1:
		return fmt.Errorf("trajectories %d and validation trajectories %d must be positive", c.Trajectories, c.Validation)
	case c.Batch < 1 || c.Batch > count:
		return fmt.Errorf("batch %d: want 1 to the %d records of an epoch (trajectories × adaptor steps)", c.Batch, count)
	}
	return train.LR{Peak: c.LR, Decay: c.Decay, Steps: c.Epochs}.Validate()
}

// clockAt returns the config's clock for a run of steps sampling steps:
// as long as the sampler's model evaluations of the steps the run keeps
// (all of them from noise, the last ones under Strength).
func (c Config) clockAt(steps int) (Clock, error) {
	evals, err := RunEvals(c.Sampler, steps, c.Strength)
	if err != nil {
		return Clock{}, err
	}
	return ParseClock(c.Clock, evals)
}

// RunEvals returns the model evaluations of a sampling run of steps steps
// started at strength (diffusion.Options.Strength; 0 or 1: from noise):
// what a Clockwork clock for the run covers.
func RunEvals(sampler string, steps int, strength float64) (int, error) {
	k, err := diffusion.StepsFrom(steps, strength)
	if err != nil {
		return 0, err
	}
	return diffusion.EvalsFor(sampler, k)
}

// FromSource reports whether strength starts a run part-way from its
// source (in (0, 1)); 0 and 1 both mean from pure noise.
func FromSource(strength float64) bool { return strength > 0 && strength < 1 }

// counts returns the step counts the adaptor is distilled for.
func (c Config) counts() []int {
	if len(c.StepCounts) > 0 {
		return c.StepCounts
	}
	return []int{c.Adaptor.Steps}
}

// perCount returns the trajectories of an epoch unrolled at a step count
// (n split evenly between the counts, the first ones taking the rest).
func (c Config) perCount(steps int) int {
	return c.split(c.Trajectories, steps)
}

func (c Config) split(n, steps int) int {
	cs := c.counts()
	i := slices.Index(cs, steps)
	per := n / len(cs)
	if i < n%len(cs) {
		per++
	}
	return per
}

// Name is an adaptor directory's default name for the configuration:
// kind, sampler and steps, clock, and what differs from the defaults.
func (c Config) Name() string {
	steps := fmt.Sprint(c.Adaptor.Steps)
	if len(c.StepCounts) > 0 {
		steps = joinInts(c.StepCounts, "_")
	}
	s := fmt.Sprintf("%s-%s%s-%s", c.Adaptor.Kind, c.Sampler, steps, strings.NewReplacer(":", "", ",", "_").Replace(c.Clock))
	if c.Adaptor.Depth != 1 {
		s += fmt.Sprintf("-d%d", c.Adaptor.Depth)
	}
	if c.Adaptor.NoPrev {
		s += "-noprev"
	}
	if c.Data != "unrolled" {
		s += "-" + c.Data
	}
	if FromSource(c.Strength) {
		s += fmt.Sprintf("-s%g", c.Strength)
	}
	if c.Adaptor.Width != DefaultWidth(c.Adaptor.Kind) {
		s += fmt.Sprintf("-w%d", c.Adaptor.Width)
	}
	if c.Adaptor.StepSize {
		s += "-dt"
	}
	if c.Adaptor.Text {
		s += "-text"
	}
	return s
}

// MemoryEstimate returns the bytes an epoch's records take (the
// distillation's peak beyond the model): trajectories × adaptor steps ×
// (r_in + 2 r_out + embedding), for the teacher's shapes.
func (c Config) MemoryEstimate(b *AdaptorBase) int64 {
	per := int64(b.RIn[0]*b.RIn[1]*b.RIn[2]+2*b.ROut[0]*b.ROut[1]*b.ROut[2]+b.Temb)*4 + 32
	var records int64
	for _, steps := range c.counts() {
		clock, _ := c.clockAt(steps)
		records += int64(c.split(c.Trajectories, steps)+c.split(c.Validation, steps)) * int64(clock.Count())
	}
	return records * per
}

// joinInts formats v with a separator.
func joinInts(v []int, sep string) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, sep)
}

// Register adds the distillation settings to fs as flags (-adaptor, -width,
// -depth, -no-prev, -step-size, -step-counts, -sampler, -steps, -clock,
// -at, -strength, -data, -epochs, -trajectories, -validation, -batch, -lr, -decay,
// -seed), with c's values as defaults: the distill command's flags.
func (c *Config) Register(fs *flag.FlagSet) {
	d := *c
	fs.StringVar(&c.Adaptor.Kind, "adaptor", d.Adaptor.Kind, "adaptor kind: "+strings.Join(KindNames(), ", "))
	fs.IntVar(&c.Adaptor.Width, "width", 0, "adaptor width (default: the kind's)")
	fs.IntVar(&c.Adaptor.Depth, "depth", d.Adaptor.Depth, "cut depth: 1 keeps the first down and last up block in the shell, 2 one level more")
	fs.BoolVar(&c.Adaptor.NoPrev, "no-prev", false, "without the previous step's r_out (input ablation)")
	fs.BoolVar(&c.Adaptor.StepSize, "step-size", false, "condition the adaptor on the step size (for -step-counts)")
	fs.BoolVar(&c.Adaptor.Text, "text", false, "condition the adaptor on the prompt's pooled text embedding (a text-conditioned teacher; the paper's Tab. 5)")
	fs.Func("step-counts", "distil one adaptor for several step counts, e.g. 4,8,16 (with -step-size)", func(v string) error {
		c.StepCounts = nil
		for _, f := range strings.Split(v, ",") {
			k, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("want a list of step counts such as 4,8,16")
			}
			c.StepCounts = append(c.StepCounts, k)
		}
		return nil
	})
	fs.StringVar(&c.Sampler, "sampler", d.Sampler, "sampler the adaptor is distilled for")
	fs.IntVar(&c.Adaptor.Steps, "steps", d.Adaptor.Steps, "sampling steps the adaptor is distilled for")
	fs.Func("clock", "clock N: the full U-Net every N steps, the adaptor otherwise (default 2)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		c.Clock = fmt.Sprintf("clock:%d", n)
		return nil
	})
	fs.Func("at", "explicit 1-based adaptor steps, e.g. 2,4,6,8, or all (with -no-prev)", func(v string) error { c.Clock = v; return nil })
	fs.Float64Var(&c.Strength, "strength", d.Strength, "distil an editor's adaptor for edits started from the source part-way (edit -strength): trajectories of the last int(steps·strength) steps, the clock over those (0: from noise)")
	fs.StringVar(&c.Data, "data", d.Data, "unrolled (teacher trajectories) or noised (forward-noised MNIST images)")
	fs.IntVar(&c.Epochs, "epochs", d.Epochs, "epochs")
	fs.IntVar(&c.Trajectories, "trajectories", d.Trajectories, "fresh trajectories per epoch")
	fs.IntVar(&c.Validation, "validation", d.Validation, "held-out trajectories for the validation loss")
	fs.IntVar(&c.Batch, "batch", d.Batch, "minibatch of records")
	fs.Float64Var(&c.LR, "lr", d.LR, "Adam learning rate")
	fs.StringVar(&c.Decay, "decay", d.Decay, "learning-rate decay: constant or cosine")
	fs.Uint64Var(&c.Seed, "seed", d.Seed, "seed of initialisation, trajectories and minibatches")
}
