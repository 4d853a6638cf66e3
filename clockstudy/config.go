package clockstudy

import (
	"fmt"
	"github.com/clockwork-go/clockwork/captions"
	"math"
	"slices"
	"strings"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/unet"
)

// Config defines a Clockwork study: the teacher (by fingerprint), the
// cells, the samples per cell and the distillation settings. It is what
// study.json records.
type Config struct {
	// Model is the teacher's fingerprint (unet.Model.Fingerprint), Shape
	// its samples' (C, H, W).
	Model   string           `json:"model"`
	Shape   []int            `json:"shape"`
	N       int              `json:"n"`
	Seed    uint64           `json:"seed"`
	Distill distill.Training `json:"distill"`
	Methods []Method         `json:"methods"`
	// TimeBatch samples are drawn in TimeRounds alternating rounds with
	// the baseline per cell to time it (the median ratio counts, with its
	// confidence interval from 6 rounds on), the same batch for every
	// cell.
	TimeBatch  int `json:"time_batch"`
	TimeRounds int `json:"time_rounds"`
	// Keep samples of each cell are kept for the figures.
	Keep int `json:"keep_samples"`
	// Guidance is the classifier-free guidance scale every cell samples
	// with (0 or 1: none); a text-conditioned teacher's study guides at
	// TextGuidance (the clockwork command: at the teacher's
	// diffusion.SamplingDefaults when its directory has them).
	Guidance float64 `json:"guidance,omitempty"`
	// Data is the data set whose test split FID-MNIST and KID compare
	// with (datasets.Open): "" for MNIST, captions.DataKind for a
	// text-conditioned teacher, trained on the captioned digits.
	Data string `json:"data,omitempty"`
}

// TextGuidance is the guidance scale of a text-conditioned teacher's
// study: prompts are followed, not merely suggested, as text-to-image
// models are run.
const TextGuidance = 2

// DefaultTimeRounds is the number of alternating rounds a cell is timed in
// against the baseline: enough for a distribution-free 95% interval of the
// median speed-up (evaluate.MedianCIOrder), as in the eval command.
const DefaultTimeRounds = 11

// Quick is the default study: the teacher at 8 DPM-Solver++(2M) steps and
// at the step counts of about the FLOPs of the ResNet adaptor's clock 2,
// and the ladder identity, scale-shift, ResNet and UNet-light under clock
// 2; 500 samples per cell. A text-conditioned teacher's adds the ResNet
// adaptor conditioned on the pooled text (the paper's Tab. 5) and guides
// every cell at TextGuidance.
func Quick(teacher *unet.Model) (Config, error) {
	return build(teacher, withText(teacher, quickMethods()), 500)
}

// withText adds, for a text-conditioned teacher, the ResNet adaptor that
// reads the pooled text, and drops the cells distilled on forward-noised
// images (not implemented for text: distill.Noised).
func withText(teacher *unet.Model, methods []Method) []Method {
	if !teacher.Config.Conditional() {
		return methods
	}
	methods = slices.DeleteFunc(methods, func(m Method) bool { return m.Data == "noised" })
	m := ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2", "text")
	m.Text = true
	for i := range methods {
		if methods[i].Kind == "resnet" && methods[i].Key() == ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2").Key() {
			methods[i].Groups = append(methods[i].Groups, "text")
		}
	}
	return append(methods, m)
}

// Full adds every ablation (clocks 2–4, placements, inputs, unrolled
// against forward-noised data at 4 and 8 steps, cut depth, DDIM, 4 and 16
// steps); 1000 samples per cell.
func Full(teacher *unet.Model) (Config, error) {
	c, err := build(teacher, withText(teacher, fullMethods()), 1000)
	if err != nil {
		return c, err
	}
	c.Distill.Epochs = 40
	return c, nil
}

func build(teacher *unet.Model, methods []Method, n int) (Config, error) {
	shape, err := teacher.Config.SampleShape()
	if err != nil {
		return Config{}, err
	}
	c := Config{Model: teacher.Fingerprint(), Shape: shape, N: n, Distill: DefaultDistill(), TimeBatch: 64, TimeRounds: DefaultTimeRounds, Keep: 8}
	if teacher.Config.Conditional() {
		c.Guidance, c.Data = TextGuidance, captions.DataKind
	}
	// The teacher at the step counts that cost about what the Clockwork
	// methods at 8 DPM-Solver++ steps cost: the baseline a reviewer asks
	// for first.
	var fewer []int
	for _, m := range methods {
		if !m.Clockwork() || m.Sampler != BaseSampler || m.Steps != BaseSteps || m.Depth != 1 || m.NoPrev || m.Data == "noised" || len(m.StepCounts) > 0 {
			continue
		}
		f, err := RelativeFLOPs(teacher, m)
		if err != nil {
			return c, err
		}
		for _, s := range []int{int(math.Floor(8 * f)), int(math.Ceil(8 * f))} {
			if s >= 2 && s < 8 && !slices.Contains(fewer, s) {
				fewer = append(fewer, s)
			}
		}
	}
	slices.Sort(fewer)
	for _, s := range fewer {
		found := false
		for i, m := range methods {
			if m.Kind == "teacher" && m.Sampler == "dpmpp2m" && m.Steps == s {
				methods[i].Groups = append(methods[i].Groups, "fewer")
				found = true
			}
		}
		if !found {
			methods = append(methods, TeacherMethod("dpmpp2m", s, "headline", "fewer"))
		}
	}
	c.Methods = methods
	return c, c.Validate(teacher)
}

// RelativeFLOPs returns a method's FLOPs per sample over the teacher's at
// the method's sampler and step count.
func RelativeFLOPs(teacher *unet.Model, m Method) (float64, error) {
	if !m.Clockwork() {
		return 1, nil
	}
	a, err := distill.New(teacher, distill.AdaptorConfig{Kind: m.Kind, Width: m.Width, Depth: m.Depth, NoPrev: m.NoPrev, Steps: m.Steps, StepSize: len(m.StepCounts) > 0, Text: m.Text}, 0)
	if err != nil {
		return 0, err
	}
	pm := m
	pm.Schedule = placeholder(m)
	clock, err := pm.clock()
	if err != nil {
		return 0, err
	}
	h, w, _ := teacher.Config.SampleHW()
	shell, core := a.Base().Cut.Cost(teacher.CostAt(h, w, textTokens(teacher)))
	evals, n := int64(clock.Steps()), int64(clock.Count())
	total := evals*shell + (evals-n)*core + n*a.FLOPs()
	return float64(total) / float64(evals*(shell+core)), nil
}

// textTokens is the text length a text-conditioned teacher's costs are
// counted at: the prompts of the toolkit's text encoders
// (diffusion.TextTokens); 0 for other teachers.
func textTokens(teacher *unet.Model) int {
	if teacher.Config.Conditional() {
		return diffusion.TextTokens
	}
	return 0
}

// placeholder returns a method's schedule, or for a schedule chosen by
// measurement one with as many adaptor steps (for costs and checks).
func placeholder(m Method) string {
	n := leastSensitiveCount(m.Schedule)
	if n <= 0 {
		return m.Schedule
	}
	var parts []string
	for i := 2; i <= n+1; i++ {
		parts = append(parts, fmt.Sprint(i))
	}
	return strings.Join(parts, ",")
}

// Validate checks every method against the teacher.
func (c Config) Validate(teacher *unet.Model) error {
	if c.N < 2 || c.TimeBatch < 1 || c.TimeRounds < 1 || c.Keep < 0 || c.Keep > c.N {
		return fmt.Errorf("clockwork study: %d samples, timing batch %d × %d rounds, %d kept: want at least 2 samples, a batch and a round", c.N, c.TimeBatch, c.TimeRounds, c.Keep)
	}
	if err := evaluate.CheckMNIST(teacher.Config); err != nil {
		return fmt.Errorf("clockwork study: %w", err)
	}
	if shape, _ := teacher.Config.SampleShape(); !slices.Equal(c.Shape, shape) {
		return fmt.Errorf("clockwork study of samples %v on a model of samples %v", c.Shape, shape)
	}
	if fp := teacher.Fingerprint(); c.Model != fp {
		return fmt.Errorf("clockwork study of model %s run on model %s", c.Model, fp)
	}
	seen := map[string]bool{}
	for _, m := range c.Methods {
		if seen[m.Key()] {
			return fmt.Errorf("clockwork study: method %s twice", m.Key())
		}
		seen[m.Key()] = true
		if _, err := diffusion.LookupSampler(m.Sampler); err != nil {
			return fmt.Errorf("%s: %w", m.Label(), err)
		}
		if m.Kind == Custom && m.Name == "" {
			return fmt.Errorf("clockwork study: a custom method without a name")
		}
		if !m.Clockwork() {
			continue
		}
		if n := leastSensitiveCount(m.Schedule); n < 0 || n >= m.Steps {
			return fmt.Errorf("%s: want least-sensitive:N with 1 ≤ N < %d", m.Label(), m.Steps)
		}
		if m.Trained() {
			pm := m
			pm.Schedule = placeholder(m)
			if err := pm.DistillConfig(c.Distill).Validate(); err != nil {
				return fmt.Errorf("%s: %w", m.Label(), err)
			}
		}
		if _, err := RelativeFLOPs(teacher, m); err != nil {
			return fmt.Errorf("%s: %w", m.Label(), err)
		}
	}
	return nil
}
