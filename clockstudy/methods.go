package clockstudy

import (
	"fmt"
	"strings"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
)

// Method is one cell of the study: how samples are drawn.
type Method struct {
	// Kind is "teacher", an adaptor kind (distill.KindNames), or Custom: a
	// user's method, built by the Runner's Builder of its Name.
	Kind string `json:"kind"`
	// Name names a custom method.
	Name    string `json:"name,omitempty"`
	Sampler string `json:"sampler"`
	Steps   int    `json:"steps"`
	// Schedule, Depth, NoPrev, Width and Data describe a Clockwork method
	// (see distill.Config); they are empty for the teacher.
	Schedule string `json:"schedule,omitempty"`
	Depth    int    `json:"depth,omitempty"`
	NoPrev   bool   `json:"no_prev,omitempty"`
	Width    int    `json:"width,omitempty"`
	Data     string `json:"data,omitempty"`
	// Text conditions the adaptor on the prompt's pooled text embedding
	// (a text-conditioned teacher; distill.AdaptorConfig.Text).
	Text bool `json:"text,omitempty"`
	// StepCounts, when set, is the step counts of an adaptor distilled
	// for several (conditioned on the step size); the cell runs it at
	// Steps.
	StepCounts []int `json:"step_counts,omitempty"`
	// Groups names the ablations the cell belongs to ("ladder", "clock",
	// "placement", …), for the tables.
	Groups []string `json:"groups"`
}

// Custom is the kind of a user's method (CustomMethod).
const Custom = "custom"

// BaseSampler and BaseSteps are the study's baseline, the teacher's
// operating point that every cell is timed against and the Clockwork
// methods save on: 8 DPM-Solver++(2M) steps, the paper's.
const (
	BaseSampler = "dpmpp2m"
	BaseSteps   = 8
)

// CustomMethod returns a cell of a user's method: the Runner's
// Custom[name] builds its denoiser. It is compared with the teacher at its
// sampler and steps, and timed against the baseline, like a Clockwork
// method.
func CustomMethod(name, sampler string, steps int, groups ...string) Method {
	return Method{Kind: Custom, Name: name, Sampler: sampler, Steps: steps, Groups: groups}
}

// IsBase reports whether the method is the baseline (the teacher at
// BaseSteps BaseSampler steps).
func (m Method) IsBase() bool {
	return m.Kind == "teacher" && m.Sampler == BaseSampler && m.Steps == BaseSteps
}

// Key names the cell.
func (m Method) Key() string {
	switch m.Kind {
	case "teacher":
		return fmt.Sprintf("teacher/%s%d", m.Sampler, m.Steps)
	case Custom:
		return fmt.Sprintf("custom/%s/%s%d", m.Name, m.Sampler, m.Steps)
	}
	k := fmt.Sprintf("%s/%s%d/%s/d%d", m.Kind, m.Sampler, m.Steps, m.Schedule, m.Depth)
	if m.NoPrev {
		k += "/noprev"
	}
	if m.Data != "" && m.Data != "unrolled" {
		k += "/" + m.Data
	}
	if m.Width != 0 && m.Width != distill.DefaultWidth(m.Kind) {
		k += fmt.Sprintf("/w%d", m.Width)
	}
	if len(m.StepCounts) > 0 {
		k += "/multi" + joinInts(m.StepCounts, "_")
	}
	if m.Text {
		k += "/text"
	}
	return k
}

// clock returns the method's adaptor steps over its sampler's model
// evaluations.
func (m Method) clock() (distill.Clock, error) {
	evals, err := diffusion.EvalsFor(m.Sampler, m.Steps)
	if err != nil {
		return distill.Clock{}, err
	}
	return distill.ParseClock(m.Schedule, evals)
}

func joinInts(v []int, sep string) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, sep)
}

// Label is a short human name of the method.
func (m Method) Label() string {
	switch m.Kind {
	case "teacher":
		return fmt.Sprintf("teacher, %d %s steps", m.Steps, m.Sampler)
	case Custom:
		if m.Sampler != BaseSampler || m.Steps != BaseSteps {
			return fmt.Sprintf("%s (%s %d steps)", m.Name, m.Sampler, m.Steps)
		}
		return m.Name
	}
	s := fmt.Sprintf("%s %s", m.Kind, scheduleLabel(m.Schedule))
	var extra []string
	if m.Depth != 1 {
		extra = append(extra, fmt.Sprintf("cut %d", m.Depth))
	}
	if m.NoPrev {
		extra = append(extra, "no r_out(t+1)")
	}
	if m.Data == "noised" {
		extra = append(extra, "forward-noised")
	}
	if len(m.StepCounts) > 0 {
		extra = append(extra, "one adaptor for "+joinInts(m.StepCounts, "/")+" steps")
	}
	if m.Text {
		extra = append(extra, "pooled text")
	}
	if m.Sampler != "dpmpp2m" || m.Steps != 8 {
		extra = append(extra, fmt.Sprintf("%s %d steps", m.Sampler, m.Steps))
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

func scheduleLabel(spec string) string {
	switch {
	case strings.HasPrefix(spec, "clock:"):
		return "clock " + strings.TrimPrefix(spec, "clock:")
	case spec == "all":
		return "every step"
	case strings.HasPrefix(spec, LeastSensitivePrefix):
		return "on the " + strings.TrimPrefix(spec, LeastSensitivePrefix) + " least sensitive steps"
	}
	return "{" + spec + "}"
}

// Clockwork reports whether the method uses an adaptor.
func (m Method) Clockwork() bool { return m.Kind != "teacher" && m.Kind != Custom }

// Trained reports whether the method's adaptor is distilled.
func (m Method) Trained() bool {
	if !m.Clockwork() {
		return false
	}
	k, err := distill.LookupKind(m.Kind)
	return err == nil && k.Trainable
}

// DistillConfig returns the distillation settings of the method's adaptor.
func (m Method) DistillConfig(d distill.Training) distill.Config {
	c := distill.DefaultConfig()
	c.Adaptor = distill.AdaptorConfig{Kind: m.Kind, Width: m.Width, Depth: m.Depth, NoPrev: m.NoPrev, Steps: m.Steps, Text: m.Text}
	if len(m.StepCounts) > 0 {
		// One adaptor for every cell of these counts: the same settings.
		c.StepCounts = m.StepCounts
		c.Adaptor.Steps = m.StepCounts[0]
		c.Adaptor.StepSize = true
	}
	if c.Adaptor.Width == 0 {
		c.Adaptor.Width = distill.DefaultWidth(m.Kind)
	}
	c.Sampler, c.Clock = m.Sampler, m.Schedule
	c.Data = m.Data
	if c.Data == "" {
		c.Data = "unrolled"
	}
	c.Training = d
	return c
}

// DefaultDistill returns the distillation settings of distill.DefaultConfig,
// the toolkit's one default.
func DefaultDistill() distill.Training { return distill.DefaultConfig().Training }

// ClockworkMethod returns a cell of Clockwork with an adaptor of a kind at
// the default cut (depth 1), distilled on unrolled trajectories, at a
// sampler, step count and clock (distill.ParseClock's syntax, or
// LeastSensitivePrefix and a count).
func ClockworkMethod(kind, sampler string, steps int, schedule string, groups ...string) Method {
	return Method{Kind: kind, Sampler: sampler, Steps: steps, Schedule: schedule, Depth: 1, Data: "unrolled", Groups: groups}
}

// TeacherMethod returns a cell of the teacher at a sampler and step count.
func TeacherMethod(sampler string, steps int, groups ...string) Method {
	return Method{Kind: "teacher", Sampler: sampler, Steps: steps, Groups: groups}
}

// quickMethods are the default study's cells: the teacher at 8 steps and
// at fewer steps of about Clockwork's cost, and the ladder of
// approximations under clock 2.
func quickMethods() []Method {
	return []Method{
		TeacherMethod("dpmpp2m", 8, "headline", "ladder"),
		ClockworkMethod("identity", "dpmpp2m", 8, "clock:2", "headline", "ladder"),
		ClockworkMethod("scaleshift", "dpmpp2m", 8, "clock:2", "ladder"),
		ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2", "headline", "ladder", "clock", "placement", "inputs", "data8", "depth", "sampler"),
		ClockworkMethod("unet-light", "dpmpp2m", 8, "clock:2", "ladder"),
	}
}

// multi is the ResNet adaptor distilled once for 4, 8 and 16 steps,
// conditioned on the step size, run at steps.
func multi(steps int) Method {
	m := ClockworkMethod("resnet", "dpmpp2m", steps, "clock:2", "multistep")
	m.StepCounts = []int{4, 8, 16}
	return m
}

// fullMethods adds every ablation of the paper's Tables 3–5 and Fig. 7.
func fullMethods() []Method {
	m := quickMethods()
	noPrev := ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2", "inputs")
	noPrev.NoPrev = true
	every := ClockworkMethod("resnet", "dpmpp2m", 8, "all", "inputs")
	every.NoPrev = true
	noised8 := ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2", "data8")
	noised8.Data = "noised"
	noised4 := ClockworkMethod("resnet", "dpmpp2m", 4, "clock:2", "data4")
	noised4.Data = "noised"
	depth2 := ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2", "depth")
	depth2.Depth = 2
	idDepth2 := ClockworkMethod("identity", "dpmpp2m", 8, "clock:2", "depth")
	idDepth2.Depth = 2
	m = append(m,
		TeacherMethod("dpmpp2m", 4, "steps", "data4"),
		TeacherMethod("dpmpp2m", 16, "steps"),
		TeacherMethod("ddim", 8, "sampler"),
		ClockworkMethod("resnet", "dpmpp2m", 8, "clock:3", "clock"),
		ClockworkMethod("resnet", "dpmpp2m", 8, "clock:4", "clock"),
		ClockworkMethod("identity", "dpmpp2m", 8, "clock:3", "clock"),
		ClockworkMethod("identity", "dpmpp2m", 8, "clock:4", "clock"),
		ClockworkMethod("resnet", "dpmpp2m", 8, "5,6,7,8", "placement"),
		ClockworkMethod("resnet", "dpmpp2m", 8, "3,4,5,6", "placement"),
		noPrev, every,
		noised8,
		ClockworkMethod("resnet", "dpmpp2m", 4, "clock:2", "data4", "steps"),
		noised4,
		depth2, idDepth2,
		ClockworkMethod("resnet", "ddim", 8, "clock:2", "sampler"),
		ClockworkMethod("identity", "ddim", 8, "clock:2", "sampler"),
		ClockworkMethod("resnet", "dpmpp2m", 16, "clock:2", "steps"),
		ClockworkMethod("resnet", "dpmpp2m", 8, LeastSensitivePrefix+"4", "sensitivity"),
		multi(4), multi(8), multi(16),
		ClockworkMethod("identity", "dpmpp2m", 8, LeastSensitivePrefix+"4", "sensitivity"),
	)
	for i := range m {
		def := m[i].Sampler == "dpmpp2m" && m[i].Depth == 1 && len(m[i].StepCounts) == 0
		if m[i].Kind == "resnet" && m[i].Schedule == "clock:2" && m[i].Steps == 8 && def && !m[i].NoPrev && m[i].Data == "unrolled" {
			m[i].Groups = append(m[i].Groups, "sensitivity")
		}
		if m[i].Kind == "identity" && m[i].Schedule == "clock:2" && m[i].Steps == 8 && def {
			m[i].Groups = append(m[i].Groups, "sensitivity")
		}
		if m[i].Kind == "resnet" && m[i].Schedule == "clock:2" && m[i].Sampler == "dpmpp2m" && m[i].Depth == 1 && !m[i].NoPrev && m[i].Data == "unrolled" && len(m[i].StepCounts) == 0 {
			m[i].Groups = append(m[i].Groups, "multistep")
		}
	}
	return m
}
