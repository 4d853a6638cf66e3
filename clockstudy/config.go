package clockstudy

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/unet"
)

// Config defines a Clockwork study: the teacher (by fingerprint), the
// cells, the samples per cell and the distillation settings. It is what
// study.json records.
type Config struct {
	Teacher string   `json:"teacher"`
	N       int      `json:"n"`
	Seed    uint64   `json:"seed"`
	Distill Distill  `json:"distill"`
	Methods []Method `json:"methods"`
	// TimeBatch samples are drawn TimeRepeats times per cell to time it
	// (the median counts), the same batch for every cell.
	TimeBatch   int `json:"time_batch"`
	TimeRepeats int `json:"time_repeats"`
	// Keep samples of each cell are kept for the figures.
	Keep int `json:"keep_samples"`
}

// DefaultDistill are the distillation settings of the quick study.
func DefaultDistill() Distill {
	return Distill{Epochs: 20, Trajectories: 128, Validation: 64, Batch: 16, LR: 1e-3, Decay: "cosine"}
}

// Quick is the default study: the teacher at 8 DPM-Solver++(2M) steps and
// at the step counts of about the FLOPs of the ResNet adaptor's clock 2,
// and the ladder identity, scale-shift, ResNet and UNet-light under clock
// 2; 500 samples per cell.
func Quick(teacher *unet.Model) (Config, error) {
	return build(teacher, quickMethods(), 500)
}

// Full adds every ablation (clocks 2–4, placements, inputs, unrolled
// against forward-noised data at 4 and 8 steps, cut depth, DDIM, 4 and 16
// steps); 1000 samples per cell.
func Full(teacher *unet.Model) (Config, error) {
	c, err := build(teacher, fullMethods(), 1000)
	if err != nil {
		return c, err
	}
	c.Distill.Epochs = 40
	return c, nil
}

func build(teacher *unet.Model, methods []Method, n int) (Config, error) {
	c := Config{Teacher: teacher.Fingerprint(), N: n, Distill: DefaultDistill(), TimeBatch: 64, TimeRepeats: 5, Keep: 8}
	// The teacher at the step counts that cost about what the Clockwork
	// methods at 8 DPM-Solver++ steps cost: the baseline a reviewer asks
	// for first.
	var fewer []int
	for _, m := range methods {
		if !m.Clockwork() || m.Sampler != "dpmpp2m" || m.Steps != 8 || m.Depth != 1 || m.NoPrev || m.Data == "noised" || len(m.StepCounts) > 0 {
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
			methods = append(methods, teacherMethod("dpmpp2m", s, "headline", "fewer"))
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
	a, err := distill.New(teacher, distill.Spec{Kind: m.Kind, Width: m.Width, Depth: m.Depth, NoPrev: m.NoPrev, Steps: m.Steps, StepSize: len(m.StepCounts) > 0}, 0)
	if err != nil {
		return 0, err
	}
	sched, err := distill.ParseSchedule(placeholder(m), m.Steps)
	if err != nil {
		return 0, err
	}
	h, w, _ := teacher.Config.SampleHW()
	shell, core := a.Split().Cost(teacher.Cost(h, w))
	n := int64(sched.Count())
	total := int64(m.Steps)*shell + (int64(m.Steps)-n)*core + n*a.FLOPs()
	return float64(total) / float64(int64(m.Steps)*(shell+core)), nil
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
	if c.N < 2 || c.TimeBatch < 1 || c.TimeRepeats < 1 || c.Keep < 0 || c.Keep > c.N {
		return fmt.Errorf("clockwork study: %d samples, timing batch %d × %d, %d kept: want at least 2 samples", c.N, c.TimeBatch, c.TimeRepeats, c.Keep)
	}
	seen := map[string]bool{}
	for _, m := range c.Methods {
		if seen[m.Key()] {
			return fmt.Errorf("clockwork study: method %s twice", m.Key())
		}
		seen[m.Key()] = true
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
