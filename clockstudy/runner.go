package clockstudy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/internal/provenance"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// Study returns the study's cells.
func (c Config) Study() study.Study {
	s := study.Study{Name: "clockwork", Config: c}
	for _, m := range c.Methods {
		s.Cells = append(s.Cells, study.Cell{Key: m.Key(), Spec: m})
	}
	return s
}

// Result is what a cell measured.
type Result struct {
	N int `json:"n"`
	// GFLOPs per sample, counted as the method ran; MsPerSample its wall
	// time per sample (Timing's MsB, or for the baseline the median of
	// TimeRounds solo runs).
	GFLOPs      float64 `json:"gflops_per_sample"`
	MsPerSample float64 `json:"ms_per_sample"`
	// Timing, for every cell but the baseline's (the teacher at 8
	// DPM-Solver++ steps), times the baseline (A) against the cell's method
	// (B) on the same batch in TimeRounds alternating rounds
	// (evaluate.TimePaired): its Speedup is the cell's wall-time speed-up,
	// measured in one process so that a machine whose speed drifts between
	// cells does not enter it.
	Timing *evaluate.PairedTiming `json:"paired_timing,omitempty"`
	metrics.Quality
	// L2 and PSNR to the teacher's samples from the same noise and labels
	// (the teacher at the method's sampler and steps, or the baseline for
	// the teacher's other cells); nil for the baseline itself.
	L2   *metrics.Interval `json:"l2_to_teacher,omitempty"`
	PSNR *metrics.Interval `json:"psnr_to_teacher,omitempty"`
	// Adaptor describes the cell's adaptor.
	Adaptor *AdaptorInfo `json:"adaptor,omitempty"`
	// Schedule names the adaptor steps the cell ran, as distill.Clock's
	// String does ("clock 2", or the 1-based steps of a clock chosen by
	// measurement, "{2,4,5,8}").
	Schedule string `json:"schedule,omitempty"`
	// Host names the machine and CPU the cell was timed on: wall times
	// compare only between cells of one host.
	Host string `json:"host,omitempty"`
	// Samples keeps the first Keep samples, 8-bit, base64
	// (study.EncodeSamples).
	Samples string `json:"samples,omitempty"`
	// Prompts is a text-conditioned teacher's cells' prompt adherence,
	// beside real images'.
	Prompts *captions.Judgement `json:"prompt_adherence,omitempty"`
}

// AdaptorInfo is an adaptor's size and distillation.
type AdaptorInfo struct {
	Dir             string  `json:"dir"`
	Params          int     `json:"parameters"`
	MFLOPs          float64 `json:"mflops_per_sample"`
	ValLoss         float64 `json:"val_loss,omitempty"`
	IdentityValLoss float64 `json:"identity_val_loss,omitempty"`
	Epochs          int     `json:"epochs,omitempty"`
	Seconds         float64 `json:"distill_seconds,omitempty"`
}

// Builder builds the denoiser of a user's method (a custom cell,
// CustomMethod) for the study's model at the cell's sampler and step
// count: the plain denoiser, which must count its FLOPs
// (diffusion.FLOPCounter).
type Builder func(model *unet.Model, sampler string, steps int) (diffusion.Denoiser, error)

// Runner runs the cells of a Clockwork study.
type Runner struct {
	Config Config
	// Model is the teacher, loaded from ModelDir (recorded in the
	// adaptors' manifests); Noise its noise schedule.
	Model    *unet.Model
	ModelDir string
	Noise    *diffusion.Schedule
	// Classifier gives the quality measures.
	Classifier *metrics.Classifier
	// Dir is the study directory (the teacher's reference samples are
	// cached in Dir/references); Adaptors the directory the adaptors are
	// distilled into and reused from.
	Dir, Adaptors string
	Batch         int
	// Custom builds the denoisers of the study's custom methods, by name.
	Custom map[string]Builder
	// Log, when set, receives a line per phase of a cell (distillation
	// epochs included).
	Log io.Writer
	// Context stops a distillation between epochs (it checkpoints).
	Context context.Context
	// Text is a text-conditioned teacher's text encoder (nil for others):
	// the cells draw the test split's captions of the captioned digits,
	// and the adaptors are distilled on prompts drawn from Captions.
	Text     *textenc.Prompter
	Captions []string

	refs   map[string][]float32
	labels []int64
	mnist  *datasets.Images
	cond   *diffusion.Cond
	prompt []string
	textG  float64
}

// guidance returns the guidance every cell samples with.
func (r *Runner) guidance() (diffusion.Guidance, error) {
	scale := r.Config.Guidance
	if scale == 0 {
		scale = 1
	}
	if r.Text != nil {
		return diffusion.TextGuidance(r.Text, scale)
	}
	return diffusion.ClassGuidance(r.Model.Config.NumClasses(), scale)
}

// guided wraps a method's denoiser in the study's guidance.
func (r *Runner) guided(d diffusion.Denoiser) (diffusion.Denoiser, error) {
	g, err := r.guidance()
	if err != nil {
		return nil, err
	}
	return diffusion.Guide(d, g)
}

func (r *Runner) logf(format string, a ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", a...)
	}
}

func (r *Runner) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return 100
}

// setup returns the evaluation setup of the study's N samples.
func (r *Runner) setup() (evaluate.Setup, error) {
	shape, err := r.Model.Config.SampleShape()
	if err != nil {
		return evaluate.Setup{}, err
	}
	if r.cond == nil {
		if r.Model.Config.Conditional() != (r.Text != nil) {
			return evaluate.Setup{}, fmt.Errorf("clockwork study: %w", diffusion.CheckText(r.Model.Config, r.Text))
		}
		if r.labels, err = evaluate.LabelsFor(r.Config.N, r.Model.Config.NumClasses()); err != nil {
			return evaluate.Setup{}, err
		}
		c := diffusion.Labels(r.labels)
		if r.Text != nil {
			if r.prompt, err = captions.TestCaptions(r.Config.N); err != nil {
				return evaluate.Setup{}, err
			}
			tc, err := diffusion.PromptCond(r.Text, r.prompt)
			if err != nil {
				return evaluate.Setup{}, err
			}
			c.Text, c.Pooled = tc.Text, tc.Pooled
			all := r.prompt
			if r.Config.Guidance > 1 {
				all = append(slices.Clip(all), "") // the dropped prompt
			}
			f, err := r.Text.DistinctFLOPs(all)
			if err != nil {
				return evaluate.Setup{}, err
			}
			r.textG = float64(f) / float64(r.Config.N) / 1e9
		}
		r.cond = &c
	}
	return evaluate.Setup{Noise: r.Noise, Shape: shape, N: r.Config.N, Batch: min(r.batch(), r.Config.N), Seed: r.Config.Seed, Cond: *r.cond,
		Prompts: r.prompt, TextGFLOPs: r.textG}, nil
}

// teacher returns the teacher at a sampler and step count as a method,
// with the study's guidance.
func (r *Runner) teacher(sampler string, steps int) (evaluate.Method, error) {
	d, err := r.guided(&diffusion.ModelDenoiser{Model: r.Model})
	if err != nil {
		return evaluate.Method{}, err
	}
	return evaluate.Method{Name: fmt.Sprintf("teacher, %d %s steps", steps, sampler), Denoiser: d, Sampler: sampler, Steps: steps}, nil
}

// reference returns the teacher's samples at a sampler and step count,
// cached in Dir/references.
func (r *Runner) reference(sampler string, steps int) ([]float32, error) {
	key := fmt.Sprintf("%s%d", sampler, steps)
	if x, ok := r.refs[key]; ok {
		return x, nil
	}
	s, err := r.setup()
	if err != nil {
		return nil, err
	}
	c := r.Config
	path := filepath.Join(r.Dir, "references", fmt.Sprintf("%s-%s-n%d-seed%d.npz", key, c.Model, c.N, c.Seed))
	t, err := r.teacher(sampler, steps)
	if err != nil {
		return nil, err
	}
	x, err := study.CachedSamples(path, c.N, s.Shape, func() ([]float32, error) {
		r.logf("teacher reference: %d samples, %d %s steps", c.N, steps, sampler)
		d, err := evaluate.Draw(t, s)
		return d.X, err
	})
	if err != nil {
		return nil, err
	}
	if r.refs == nil {
		r.refs = map[string][]float32{}
	}
	r.refs[key] = x
	return x, nil
}

// denoiser builds the method's denoiser, guided as the study guides.
func (r *Runner) denoiser(m Method) (diffusion.Denoiser, *AdaptorInfo, error) {
	d, info, err := r.plain(m)
	if err != nil {
		return nil, nil, err
	}
	d, err = r.guided(d)
	return d, info, err
}

// plain builds the method's denoiser without guidance.
func (r *Runner) plain(m Method) (diffusion.Denoiser, *AdaptorInfo, error) {
	switch {
	case m.Kind == Custom:
		b, ok := r.Custom[m.Name]
		if !ok {
			return nil, nil, fmt.Errorf("cell %s is a custom method: give its Builder in Runner.Custom[%q]", m.Key(), m.Name)
		}
		d, err := b(r.Model, m.Sampler, m.Steps)
		return d, nil, err
	case !m.Clockwork():
		return &diffusion.ModelDenoiser{Model: r.Model}, nil, nil
	}
	a, info, err := r.adaptor(m)
	if err != nil {
		return nil, nil, err
	}
	clock, err := m.clock()
	if err != nil {
		return nil, nil, err
	}
	cw, err := distill.NewClockwork(r.Model, a, clock)
	if err != nil {
		return nil, nil, err
	}
	return cw, info, nil
}

// Run runs one cell (a study.Cell of Config.Study).
func (r *Runner) Run(cell study.Cell) (any, error) {
	m, ok := cell.Spec.(Method)
	if !ok {
		return nil, fmt.Errorf("cell %s is not a Clockwork study cell", cell.Key)
	}
	m, err := r.resolve(m)
	if err != nil {
		return nil, err
	}
	c := r.Config
	s, err := r.setup()
	if err != nil {
		return nil, err
	}
	d, info, err := r.denoiser(m)
	if err != nil {
		return nil, err
	}
	base, err := r.teacher(BaseSampler, BaseSteps)
	if err != nil {
		return nil, err
	}
	res := Result{N: c.N, Adaptor: info, Host: Host()}
	if m.Clockwork() {
		clock, _ := m.clock()
		res.Schedule = clock.String()
	}
	method := evaluate.Method{Name: m.Label(), Denoiser: d, Sampler: m.Sampler, Steps: m.Steps}
	var x []float32
	if m.IsBase() {
		if x, err = r.reference(BaseSampler, BaseSteps); err != nil {
			return nil, err
		}
		g, err := r.guidance()
		if err != nil {
			return nil, err
		}
		_, full := r.Model.CostAt(s.Shape[1], s.Shape[2], s.Cond.Tokens()).Total()
		res.GFLOPs = float64(full)*float64(m.Steps*g.Branches())/1e9 + s.TextGFLOPs
		if res.MsPerSample, err = r.time(method, s); err != nil {
			return nil, err
		}
		rep, err := evaluate.Measure(r.Classifier, method, s, evaluate.Drawn{X: x}, metrics.QualityOptions{Seed: c.Seed})
		if err != nil {
			return nil, err
		}
		res.Quality, res.Prompts = rep.Quality, rep.Prompts
	} else {
		// Clockwork and custom methods are compared with the teacher at
		// their own sampler and steps, the teacher's other cells with the
		// baseline; every cell is timed against the baseline.
		refSampler, refSteps := m.Sampler, m.Steps
		if m.Kind == "teacher" {
			refSampler, refSteps = BaseSampler, BaseSteps
		}
		ref, err := r.reference(refSampler, refSteps)
		if err != nil {
			return nil, err
		}
		r.logf("%s: %d samples, then %d rounds timed against the teacher at %d %s steps", m.Label(), c.N, c.TimeRounds, BaseSteps, BaseSampler)
		refMethod, err := r.teacher(refSampler, refSteps)
		if err != nil {
			return nil, err
		}
		cmp, drawn, err := evaluate.Compare(r.Classifier, refMethod, method, s, evaluate.CompareOptions{
			Quality: metrics.QualityOptions{Seed: c.Seed, Data: c.Data}, Distances: true, Bootstrap: 200, Reference: ref,
			Rounds: c.TimeRounds, TimeBatch: c.TimeBatch, TimeAgainst: base})
		if err != nil {
			return nil, err
		}
		x = drawn
		res.GFLOPs, res.Quality, res.L2, res.PSNR, res.Timing, res.Prompts = cmp.GFLOPsPerSample, cmp.Quality, cmp.L2, cmp.PSNR, cmp.Paired, cmp.Prompts
		res.MsPerSample = cmp.Paired.MsB
	}
	if c.Keep > 0 {
		res.Samples = study.EncodeSamples(x[:c.Keep*s.Shape[0]*s.Shape[1]*s.Shape[2]])
	}
	return res, nil
}

// time returns the median wall time per sample of TimeRounds runs of
// TimeBatch samples, after one untimed run (graphs compile on first use).
func (r *Runner) time(m evaluate.Method, s evaluate.Setup) (float64, error) {
	c := r.Config
	s = s.First(c.TimeBatch)
	times := make([]float64, 0, c.TimeRounds)
	for i := 0; i <= c.TimeRounds; i++ {
		d, err := evaluate.Draw(m, s)
		if err != nil {
			return 0, err
		}
		if i > 0 {
			times = append(times, d.Ms)
		}
	}
	return evaluate.Median(times), nil
}

// Host names this machine and its CPU model, for Result.Host.
func Host() string {
	name, _ := os.Hostname()
	return fmt.Sprintf("%s (%s, %d CPUs)", name, provenance.CPU(), runtime.NumCPU())
}

// SameResult reports whether two results of one cell agree in everything
// they measured, for study.Merge of overlapping directories: where and how
// fast they were made (the wall time, the host it was timed on, the
// adaptor's directory and its distillation time) is left out, so that two
// runs of one study on two machines merge.
func SameResult(a, b json.RawMessage) bool {
	var x, y Result
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	for _, r := range []*Result{&x, &y} {
		r.MsPerSample, r.Host, r.Timing = 0, "", nil
		if r.Adaptor != nil {
			r.Adaptor.Dir, r.Adaptor.Seconds = "", 0
		}
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}
