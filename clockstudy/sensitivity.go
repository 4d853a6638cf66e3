package clockstudy

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/unet"
)

// LeastSensitivePrefix names the schedules chosen by measurement:
// "least-sensitive:N" puts the adaptor on the N steps where replacing the
// core's output changes the samples least (Sensitivity).
const LeastSensitivePrefix = "least-sensitive:"

// leastSensitiveCount returns N of a "least-sensitive:N" schedule, or 0.
func leastSensitiveCount(spec string) int {
	if !strings.HasPrefix(spec, LeastSensitivePrefix) {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimPrefix(spec, LeastSensitivePrefix))
	if err != nil || n < 1 {
		return -1
	}
	return n
}

// Sensitivity measures how much each sampling step's low-resolution core
// matters: for each step i after the first, the mean L2 distance between
// the teacher's final samples and those of a run in which only step i's
// core output r_out is replaced by step i−1's (a perturbation of the core
// at that one step, the identity adaptor run once). Entry 0 (the first
// step, which has no previous r_out) is math.MaxFloat64, so that it is never
// chosen. It is the perturbation
// study's measurement turned on the core, on n samples of noise seed
// (another seed than the evaluation's, so the choice is not fitted to the
// samples it is judged on). The samples' conditioning is cond (n rows: a
// text-conditioned teacher's prompts), or when cond is zero the digits in
// turn for a class-conditional teacher.
func Sensitivity(teacher *unet.Model, noise *diffusion.Schedule, sampler string, steps, n, batch int, seed uint64, cond diffusion.Cond) ([]float64, error) {
	if cond.IsZero() {
		labels, err := evaluate.LabelsFor(n, teacher.Config.NumClasses())
		if err != nil {
			return nil, err
		}
		cond = diffusion.Labels(labels)
	}
	shape, err := teacher.Config.SampleShape()
	if err != nil {
		return nil, err
	}
	o := diffusion.Options{Sampler: sampler, Steps: steps, Seed: seed, Cond: cond}
	ref, err := diffusion.SampleMany(&diffusion.ModelDenoiser{Model: teacher}, noise, shape, n, batch, o, nil)
	if err != nil {
		return nil, err
	}
	id, err := distill.New(teacher, distill.AdaptorConfig{Kind: "identity", Depth: 1, Steps: steps}, 0)
	if err != nil {
		return nil, err
	}
	out := make([]float64, steps)
	out[0] = math.MaxFloat64
	for i := 2; i <= steps; i++ {
		sched, err := distill.ClockAt(steps, i)
		if err != nil {
			return nil, err
		}
		cw, err := distill.NewClockwork(teacher, id, sched)
		if err != nil {
			return nil, err
		}
		x, err := diffusion.SampleMany(cw, noise, shape, n, batch, o, nil)
		if err != nil {
			return nil, err
		}
		p, err := metrics.PairedDistances(x.Data().([]float32), ref.Data().([]float32), n)
		if err != nil {
			return nil, err
		}
		var s float64
		for _, v := range p.L2 {
			s += v
		}
		out[i-1] = s / float64(n)
	}
	return out, nil
}

// LeastSensitive returns the 1-based steps of the count smallest
// sensitivities, in order.
func LeastSensitive(sens []float64, count int) []int {
	idx := make([]int, len(sens))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return sens[idx[a]] < sens[idx[b]] })
	var out []int
	for _, i := range idx[:min(count, len(idx))] {
		out = append(out, i+1)
	}
	slices.Sort(out)
	return out
}

// sensitivityRecord is what Dir/sensitivity-*.json keeps.
type sensitivityRecord struct {
	Model   string    `json:"model"`
	Sampler string    `json:"sampler"`
	Steps   int       `json:"steps"`
	N       int       `json:"n"`
	Seed    uint64    `json:"seed"`
	L2      []float64 `json:"l2_by_step"`
}

// sensitivity returns (and caches in Dir) the teacher's per-step core
// sensitivity at an operating point.
func (r *Runner) sensitivity(sampler string, steps int) ([]float64, error) {
	c := r.Config
	n := min(c.N, 128)
	seed := c.Seed ^ 0x5e115e11
	path := filepath.Join(r.Dir, fmt.Sprintf("sensitivity-%s%d.json", sampler, steps))
	var rec sensitivityRecord
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &rec) == nil &&
		rec.Model == c.Model && rec.Sampler == sampler && rec.Steps == steps && rec.N == n && rec.Seed == seed && len(rec.L2) == steps {
		return rec.L2, nil
	}
	r.logf("measuring the core's sensitivity at each of %d %s steps on %d samples", steps, sampler, n)
	var cond diffusion.Cond
	if r.Text != nil {
		// Prompts of the train split's captions, drawn from the seed.
		caps := make([]string, n)
		pick := rand.New(rand.NewPCG(seed, 0xca9))
		for i := range caps {
			caps[i] = r.Captions[pick.IntN(len(r.Captions))]
		}
		var err error
		if cond, err = diffusion.PromptCond(r.Text, caps); err != nil {
			return nil, err
		}
	}
	l2, err := Sensitivity(r.Model, r.Noise, sampler, steps, n, r.batch(), seed, cond)
	if err != nil {
		return nil, err
	}
	rec = sensitivityRecord{Model: c.Model, Sampler: sampler, Steps: steps, N: n, Seed: seed, L2: l2}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := fsutil.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return nil, err
	}
	return l2, nil
}

// resolve turns a "least-sensitive:N" schedule into its steps.
func (r *Runner) resolve(m Method) (Method, error) {
	n := leastSensitiveCount(m.Schedule)
	if n == 0 {
		return m, nil
	}
	if n < 0 || n >= m.Steps {
		return m, fmt.Errorf("schedule %s: want least-sensitive:N with 1 ≤ N < %d", m.Schedule, m.Steps)
	}
	sens, err := r.sensitivity(m.Sampler, m.Steps)
	if err != nil {
		return m, err
	}
	var parts []string
	for _, s := range LeastSensitive(sens, n) {
		parts = append(parts, strconv.Itoa(s))
	}
	m.Schedule = strings.Join(parts, ",")
	return m, nil
}
