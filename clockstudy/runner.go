package clockstudy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/perturb"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/train"
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
	// GFLOPs per sample, counted as the method ran; MsPerSample the median
	// wall time per sample of TimeRepeats runs of a TimeBatch batch.
	GFLOPs      float64 `json:"gflops_per_sample"`
	MsPerSample float64 `json:"ms_per_sample"`
	// Timing, for every cell but the 8-step teacher's, times that teacher
	// (A) against the cell's method (B) on the same batch in TimeRepeats
	// alternating rounds (evaluate.TimePaired): its Speedup is the cell's
	// wall-time speed-up, measured in one process so that a machine whose
	// speed drifts between cells does not enter it. MsPerSample is then
	// its MsB.
	Timing *evaluate.PairedTiming `json:"paired_timing,omitempty"`
	metrics.Quality
	// L2 and PSNR to the teacher's samples from the same noise and labels
	// (the teacher at the method's sampler and steps for Clockwork methods,
	// at 8 DPM-Solver++ steps for the teacher's other cells); nil for that
	// reference itself.
	L2   *metrics.Interval `json:"l2_to_teacher,omitempty"`
	PSNR *metrics.Interval `json:"psnr_to_teacher,omitempty"`
	// Adaptor describes the cell's adaptor.
	Adaptor *AdaptorInfo `json:"adaptor,omitempty"`
	// Schedule names the adaptor steps the cell ran, as distill.Schedule's
	// String does ("clock 2", or the 1-based steps of a schedule chosen by
	// measurement, "{2,4,5,8}").
	Schedule string `json:"schedule,omitempty"`
	// Host names the machine and CPU the cell was timed on: wall times
	// compare only between cells of one host.
	Host string `json:"host,omitempty"`
	// Samples keeps the first Keep samples, 8-bit, base64.
	Samples string `json:"samples,omitempty"`
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

// Runner runs the cells of a Clockwork study.
type Runner struct {
	Config     Config
	Teacher    *unet.Model
	TeacherDir string
	Noise      *diffusion.Schedule
	Classifier *metrics.Classifier
	// Dir is the study directory (the teacher's reference samples are
	// cached in Dir/references); Adaptors the directory the adaptors are
	// distilled into and reused from.
	Dir, Adaptors string
	Batch         int
	// Log, when set, receives a line per phase of a cell (distillation
	// epochs included).
	Log io.Writer
	// Context stops a distillation between epochs (it checkpoints).
	Context context.Context

	refs   map[string][]float32
	labels []int64
	mnist  *datasets.Images
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

// sample draws the study's N samples (or n) with a denoiser.
func (r *Runner) sample(d diffusion.Denoiser, sampler string, steps, n int) ([]float32, error) {
	labels := r.labels
	if n < len(labels) {
		labels = labels[:n]
	}
	x, err := diffusion.SampleMany(d, r.Noise, []int{1, 32, 32}, n, min(r.batch(), n), labels,
		diffusion.Options{Sampler: sampler, Steps: steps, Seed: r.Config.Seed}, nil)
	if err != nil {
		return nil, err
	}
	return x.Data().([]float32), nil
}

// reference returns the teacher's samples at a sampler and step count,
// cached in Dir/references.
func (r *Runner) reference(sampler string, steps int) ([]float32, error) {
	key := fmt.Sprintf("%s%d", sampler, steps)
	if x, ok := r.refs[key]; ok {
		return x, nil
	}
	c := r.Config
	path := filepath.Join(r.Dir, "references", fmt.Sprintf("%s-%s-n%d-seed%d.npz", key, c.Teacher, c.N, c.Seed))
	var x []float32
	if a, err := npzio.Read(path); err == nil && len(a["samples"].F32) == c.N*1024 {
		x = a["samples"].F32
	} else {
		r.logf("teacher reference: %d samples, %d %s steps", c.N, steps, sampler)
		if x, err = r.sample(&diffusion.ModelDenoiser{Model: r.Teacher}, sampler, steps, c.N); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := npzio.Write(path, []string{"samples"}, map[string]npzio.Array{"samples": npzio.Float32(x, c.N, 1, 32, 32)}); err != nil {
			return nil, err
		}
	}
	if r.refs == nil {
		r.refs = map[string][]float32{}
	}
	r.refs[key] = x
	return x, nil
}

// SameResult reports whether two results of one cell agree in everything
// but the wall time and the host it was timed on (for study.Merge of
// overlapping directories).
func SameResult(a, b json.RawMessage) bool {
	var x, y Result
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	x.MsPerSample, y.MsPerSample, x.Host, y.Host, x.Timing, y.Timing = 0, 0, "", "", nil, nil
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}

// adaptorDir is where an adaptor of these distillation settings is
// distilled and found again: its name (distill.Config.Name) and a short
// hash of every setting, so that studies with other distillation budgets
// (the quick and the full) keep their adaptors apart.
func (r *Runner) adaptorDir(cfg distill.Config) string {
	b, _ := json.Marshal(cfg)
	h := sha256.Sum256(b)
	return filepath.Join(r.Adaptors, cfg.Name()+"-"+hex.EncodeToString(h[:4]))
}

// finished loads a method's adaptor when Adaptors holds a finished one of
// the same teacher and settings.
func (r *Runner) finished(m Method) (*distill.Adaptor, *AdaptorInfo, bool, error) {
	cfg := m.DistillConfig(r.Config.Distill)
	dir := r.adaptorDir(cfg)
	man, err := distill.ReadManifest(dir)
	if err != nil || !sameConfig(man.Config, cfg) || man.Epochs != cfg.Epochs {
		return nil, nil, false, nil
	}
	a, man, err := distill.Load(dir, r.Teacher, m.Sampler, m.Steps, false)
	if err != nil {
		return nil, nil, false, err
	}
	return a, &AdaptorInfo{Dir: dir, Params: a.Params.Count(), MFLOPs: float64(a.FLOPs()) / 1e6, ValLoss: man.ValLoss,
		IdentityValLoss: man.IdentityValLoss, Epochs: man.Epochs, Seconds: man.Seconds}, true, nil
}

// distiller returns a distiller (new, or resumed from a checkpoint) for a
// method's adaptor, holding the lock of its directory; nil when another
// process finished it meanwhile.
func (r *Runner) distiller(m Method) (*distill.Distiller, func(), error) {
	cfg := m.DistillConfig(r.Config.Distill)
	dir := r.adaptorDir(cfg)
	unlock, err := fsutil.LockWait(dir, r.Context)
	if err != nil {
		return nil, nil, err
	}
	if _, _, ok, err := r.finished(m); ok || err != nil {
		unlock()
		return nil, nil, err
	}
	var data *datasets.Images
	if cfg.Data == "noised" {
		if r.mnist == nil {
			if r.mnist, err = datasets.MNIST("train", "", true); err != nil {
				unlock()
				return nil, nil, err
			}
		}
		data = r.mnist
	}
	var d *distill.Distiller
	if has, _ := train.HasCheckpoint(dir); has {
		if d, err = distill.ResumeDistiller(dir, r.Teacher, r.TeacherDir, r.Noise, data); err == nil && !sameConfig(d.Config, cfg) {
			err = fmt.Errorf("%s holds a distillation with other settings: remove it or choose another -adaptors directory", dir)
		}
		if err == nil {
			r.logf("%s: resuming the distillation in %s at epoch %d", m.Label(), dir, d.Epoch)
		}
	} else {
		d, err = distill.NewDistiller(dir, r.Teacher, r.TeacherDir, r.Noise, cfg, data)
		if err == nil {
			r.logf("%s: distilling %d epochs of %d trajectories into %s", m.Label(), cfg.Epochs, cfg.Trajectories, dir)
		}
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	d.UnrollBatch = r.batch()
	if r.Log != nil {
		d.Log = prefixed{r.Log, m.Label() + ": "}
	}
	return d, unlock, nil
}

// prefixed writes lines with a prefix.
type prefixed struct {
	w      io.Writer
	prefix string
}

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Prepare distils the adaptors the methods need that Adaptors does not hold
// finished yet. Adaptors of one operating point, cut, data and epoch are
// distilled side by side on shared trajectories (distill.Source): each
// epoch's teacher trajectories are unrolled once for all of them.
func (r *Runner) Prepare(methods []Method) error {
	type group struct{ ds []*distill.Distiller }
	groups := map[string]*group{}
	var order []string
	var unlocks []func()
	defer func() {
		for _, u := range unlocks {
			u()
		}
	}()
	seen := map[string]bool{}
	for _, m := range methods {
		if !m.Trained() {
			continue
		}
		m, err := r.resolve(m)
		if err != nil {
			return err
		}
		// Cells that share an adaptor (the multi-step adaptor's, a measured
		// schedule equal to another cell's) distil it once.
		if dir := r.adaptorDir(m.DistillConfig(r.Config.Distill)); seen[dir] {
			continue
		} else {
			seen[dir] = true
		}
		if _, _, ok, err := r.finished(m); ok || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		d, unlock, err := r.distiller(m)
		if err != nil {
			return err
		}
		if d == nil {
			continue
		}
		unlocks = append(unlocks, unlock)
		k := fmt.Sprintf("%s/e%d", d.RecordsKey(), d.Epoch)
		if groups[k] == nil {
			groups[k] = &group{}
			order = append(order, k)
		}
		groups[k].ds = append(groups[k].ds, d)
	}
	ctx := r.Context
	if ctx == nil {
		ctx = context.Background()
	}
	for _, k := range order {
		g := groups[k]
		src := distill.NewSource(len(g.ds))
		errs := make(chan error, len(g.ds))
		for _, d := range g.ds {
			d.Source = src
			go func() { errs <- d.Run(ctx) }()
		}
		var first error
		for range g.ds {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		if errors.Is(first, train.ErrInterrupted) {
			return study.ErrInterrupted
		}
		if first != nil {
			return first
		}
	}
	return nil
}

// adaptor returns the method's adaptor, distilling it first when Adaptors
// holds no finished one for the same teacher and settings.
func (r *Runner) adaptor(m Method) (*distill.Adaptor, *AdaptorInfo, error) {
	if m.Kind == "identity" {
		a, err := distill.New(r.Teacher, distill.Spec{Kind: "identity", Depth: m.Depth, Steps: m.Steps}, 0)
		return a, &AdaptorInfo{}, err
	}
	if a, info, ok, err := r.finished(m); ok || err != nil {
		if ok {
			r.logf("%s: using the adaptor in %s", m.Label(), info.Dir)
		}
		return a, info, err
	}
	if err := r.Prepare([]Method{m}); err != nil {
		return nil, nil, err
	}
	a, info, ok, err := r.finished(m)
	if err == nil && !ok {
		err = fmt.Errorf("%s: the adaptor did not finish", m.Label())
	}
	return a, info, err
}

func sameConfig(a, b distill.Config) bool {
	if a.Adaptor.Width == 0 {
		a.Adaptor.Width = distill.DefaultWidth(a.Adaptor.Kind)
	}
	if b.Adaptor.Width == 0 {
		b.Adaptor.Width = distill.DefaultWidth(b.Adaptor.Kind)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// denoiser builds the method's denoiser.
func (r *Runner) denoiser(m Method) (diffusion.Denoiser, *AdaptorInfo, error) {
	if !m.Clockwork() {
		return &diffusion.ModelDenoiser{Model: r.Teacher}, nil, nil
	}
	a, info, err := r.adaptor(m)
	if err != nil {
		return nil, nil, err
	}
	sched, err := distill.ParseSchedule(m.Schedule, m.Steps)
	if err != nil {
		return nil, nil, err
	}
	cw, err := distill.NewClockwork(r.Teacher, a, sched)
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
	if r.labels == nil {
		var err error
		if r.labels, err = evaluate.LabelsFor(c.N, r.Teacher.Config.NumClasses()); err != nil {
			return nil, err
		}
	}
	d, info, err := r.denoiser(m)
	if err != nil {
		return nil, err
	}
	refSampler, refSteps := m.Sampler, m.Steps
	if !m.Clockwork() {
		refSampler, refSteps = "dpmpp2m", 8
	}
	ref, err := r.reference(refSampler, refSteps)
	if err != nil {
		return nil, err
	}
	res := Result{N: c.N, Adaptor: info}
	if m.Clockwork() {
		sched, _ := distill.ParseSchedule(m.Schedule, m.Steps)
		res.Schedule = sched.String()
	}
	var x []float32
	before, _ := diffusion.CountedFLOPs(d)
	if !m.Clockwork() && m.Sampler == refSampler && m.Steps == refSteps {
		x = ref
		_, full := r.Teacher.Cost(32, 32).Total()
		res.GFLOPs = float64(full) * float64(m.Steps) / 1e9
	} else {
		r.logf("%s: %d samples", m.Label(), c.N)
		if x, err = r.sample(d, m.Sampler, m.Steps, c.N); err != nil {
			return nil, err
		}
		after, _ := diffusion.CountedFLOPs(d)
		res.GFLOPs = float64(after-before) / float64(c.N) / 1e9
		p, err := metrics.PairedDistances(x, ref, c.N)
		if err != nil {
			return nil, err
		}
		l2, err := metrics.Mean(p.L2, 200, c.Seed)
		if err != nil {
			return nil, err
		}
		psnr, err := metrics.Mean(metrics.CapPSNR(p.PSNR), 200, c.Seed+1)
		if err != nil {
			return nil, err
		}
		res.L2, res.PSNR = &l2, &psnr
	}
	if m.Clockwork() || m.Sampler != "dpmpp2m" || m.Steps != 8 {
		base := &diffusion.ModelDenoiser{Model: r.Teacher}
		r.logf("%s: timing against the teacher at 8 DPM-Solver++(2M) steps, %d alternating rounds", m.Label(), c.TimeRepeats)
		labels, err := evaluate.LabelsFor(c.TimeBatch, r.Teacher.Config.NumClasses())
		if err != nil {
			return nil, err
		}
		// The teacher runs at 8 DPM-Solver++ steps, the method at its own
		// sampler and steps: both draw the same batch, alternately.
		p, err := evaluate.TimePaired(base, d, r.Noise, evaluate.PairOptions{Sampler: m.Sampler, Steps: m.Steps, Seed: c.Seed,
			ASampler: "dpmpp2m", ASteps: 8, Batch: c.TimeBatch, Labels: labels, Rounds: c.TimeRepeats})
		if err != nil {
			return nil, err
		}
		res.Timing, res.MsPerSample = &p, p.MsB
	} else if res.MsPerSample, err = r.time(d, m); err != nil {
		return nil, err
	}
	res.Host = Host()
	if res.Quality, err = metrics.MeasureQuality(r.Classifier, x, c.N, r.labels, metrics.QualityOptions{Seed: c.Seed}); err != nil {
		return nil, err
	}
	if c.Keep > 0 {
		res.Samples = perturb.EncodeSamples(x[:c.Keep*1024])
	}
	return res, nil
}

// MaxPSNR is the PSNR counted for a sample identical to the teacher's
// (metrics.MaxPSNR).
const MaxPSNR = metrics.MaxPSNR

// Host names this machine and its CPU model, for Result.Host.
func Host() string {
	name, _ := os.Hostname()
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s (%s, %d CPUs)", name, cpu, runtime.NumCPU())
}

// time returns the median wall time per sample of TimeRepeats runs of
// TimeBatch samples, after one untimed run (graphs compile on first use).
func (r *Runner) time(d diffusion.Denoiser, m Method) (float64, error) {
	c := r.Config
	n := c.TimeBatch
	labels, err := evaluate.LabelsFor(n, r.Teacher.Config.NumClasses())
	if err != nil {
		return 0, err
	}
	var times []float64
	for i := 0; i <= c.TimeRepeats; i++ {
		start := time.Now()
		if _, err := diffusion.SampleMany(d, r.Noise, []int{1, 32, 32}, n, n, labels,
			diffusion.Options{Sampler: m.Sampler, Steps: m.Steps, Seed: c.Seed}, nil); err != nil {
			return 0, err
		}
		if i > 0 {
			times = append(times, float64(time.Since(start).Microseconds())/1e3/float64(n))
		}
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}
