package perturbstudy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/perturb"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/unet"
)

// Config defines a perturbation study: the model (by fingerprint), the grid
// of cells and the samples per cell. It is what study.json records.
type Config struct {
	// Model is the model's fingerprint (unet.Model.Fingerprint), Shape
	// its samples' (C, H, W).
	Model    string   `json:"model"`
	Shape    []int    `json:"shape"`
	Samplers []string `json:"samplers"`
	Steps    int      `json:"steps"`
	Taps     []string `json:"taps"`
	// Work is each tap's working resolution (unet.TapInfo.WorkH), for the
	// figures' colours and the summary's low- and high-resolution groups.
	Work []int     `json:"work_res"`
	From []int     `json:"from"`
	A    []float64 `json:"a"`
	N    int       `json:"n"`
	Seed uint64    `json:"seed"`
	// Keep is how many samples of each figure cell (a = FigureA, k in
	// GridFrom) the record keeps, for the sample grids.
	Keep     int     `json:"keep_samples"`
	FigureA  float64 `json:"figure_a"`
	GridFrom []int   `json:"grid_from"`
}

// QuickConfig is the default study of model m: DPM-Solver++(2M) at 20
// steps, every tap, k in {0, 2, 5, 10, 15}, a in {0.3, 0.7}, 64 samples per
// cell; a few minutes on two cores.
func QuickConfig(m *unet.Model) (Config, error) {
	return newConfig(m, Config{Samplers: []string{"dpmpp2m"}, Steps: 20, From: []int{0, 2, 5, 10, 15},
		A: []float64{0.3, 0.7}, N: 64, Keep: 4, FigureA: 0.3, GridFrom: []int{0, 2, 5, 10, 15}})
}

// FullConfig is the paper's grid on model m: DPM-Solver++(2M) and DDIM at
// 20 steps, every tap, k in {0, 1, 2, 3, 4, 5, 10, 15}, a in {0, 0.3, 0.7},
// 256 samples per cell.
func FullConfig(m *unet.Model) (Config, error) {
	return newConfig(m, Config{Samplers: []string{"dpmpp2m", "ddim"}, Steps: 20, From: []int{0, 1, 2, 3, 4, 5, 10, 15},
		A: []float64{0, 0.3, 0.7}, N: 256, Keep: 4, FigureA: 0.3, GridFrom: []int{0, 2, 5, 10, 15}})
}

// newConfig completes a grid with the model's fingerprint, sample shape
// and taps.
func newConfig(m *unet.Model, c Config) (Config, error) {
	shape, err := m.Config.SampleShape()
	if err != nil {
		return c, err
	}
	taps := m.TapInfos(shape[1], shape[2])
	c.Model, c.Shape, c.Taps, c.Work = m.Fingerprint(), shape, tapNames(taps), tapWork(taps)
	return c, nil
}

// TapInfos returns the taps of the model the config is for, at its sample
// size.
func TapInfos(m *unet.Model) ([]unet.TapInfo, error) {
	shape, err := m.Config.SampleShape()
	if err != nil {
		return nil, err
	}
	return m.TapInfos(shape[1], shape[2]), nil
}

func tapNames(taps []unet.TapInfo) []string {
	var out []string
	for _, t := range taps {
		out = append(out, t.Name)
	}
	return out
}

func tapWork(taps []unet.TapInfo) []int {
	var out []int
	for _, t := range taps {
		out = append(out, t.WorkH)
	}
	return out
}

// Validate checks the grid against the model's taps; the start steps (and
// the grid's) must be ascending and the weights distinct.
func (c Config) Validate(taps []string) error {
	for _, l := range [][]int{c.From, c.GridFrom} {
		for i := 1; i < len(l); i++ {
			if l[i] <= l[i-1] {
				return fmt.Errorf("perturbation study: start steps %v must be ascending, each once", l)
			}
		}
	}
	for i, a := range c.A {
		if slices.Contains(c.A[:i], a) {
			return fmt.Errorf("perturbation study: mixing weight %g given twice", a)
		}
	}
	if len(c.Shape) != 3 {
		return fmt.Errorf("perturbation study: sample shape %v, want (C, H, W)", c.Shape)
	}
	if c.Steps < 1 || c.N < 2 || c.Keep < 0 || c.Keep > c.N {
		return fmt.Errorf("perturbation study: steps %d, samples %d and kept samples %d: want steps ≥ 1, samples ≥ 2, 0 ≤ kept ≤ samples", c.Steps, c.N, c.Keep)
	}
	if len(c.Samplers) == 0 || len(c.Taps) == 0 || len(c.From) == 0 || len(c.A) == 0 {
		return fmt.Errorf("perturbation study: empty grid (samplers %v, taps %v, k %v, a %v)", c.Samplers, c.Taps, c.From, c.A)
	}
	for _, s := range c.Samplers {
		if _, err := diffusion.LookupSampler(s); err != nil {
			return err
		}
	}
	for _, tap := range c.Taps {
		for _, k := range c.From {
			for _, a := range c.A {
				if err := (perturb.Perturbation{Tap: tap, From: k, A: a}).Validate(taps, c.Steps); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Cell is one cell: a sampler's unperturbed reference run (Tap empty)
// or a perturbation.
type Cell struct {
	Sampler string  `json:"sampler"`
	Tap     string  `json:"tap,omitempty"`
	From    int     `json:"from"`
	A       float64 `json:"a"`
}

// Key returns the cell's key in the study.
func (s Cell) Key() string {
	if s.Tap == "" {
		return "reference/" + s.Sampler
	}
	return fmt.Sprintf("%s/%s/k%d/a%s", s.Sampler, s.Tap, s.From, strconv.FormatFloat(s.A, 'g', -1, 64))
}

// Study returns the study's cells: per sampler its reference run, then
// every tap × k × a.
func (c Config) Study() study.Study {
	s := study.Study{Name: "perturb", Config: c}
	for _, smp := range c.Samplers {
		ref := Cell{Sampler: smp}
		s.Cells = append(s.Cells, study.Cell{Key: ref.Key(), Spec: ref})
		for _, a := range c.A {
			for _, tap := range c.Taps {
				for _, k := range c.From {
					cs := Cell{Sampler: smp, Tap: tap, From: k, A: a}
					s.Cells = append(s.Cells, study.Cell{Key: cs.Key(), Spec: cs})
				}
			}
		}
	}
	return s
}

// Result is what a cell measured, over its N samples, each clipped to
// [−1, 1] as a stored image is (DPM-Solver++ and Euler do not clip, and a
// badly perturbed run leaves that range far behind).
type Result struct {
	N int `json:"n"`
	metrics.Quality
	// L2 is the mean L2 distance of a perturbed sample to its unperturbed
	// twin (same noise and label), FlipRate the share whose class (by the
	// shipped classifier) differs from the twin's, and HighFreq the share
	// of the differences' energy above half the Nyquist frequency (nil
	// when the samples are identical). Reference cells have none of them.
	L2       *metrics.Interval `json:"l2,omitempty"`
	FlipRate *metrics.Interval `json:"flip_rate,omitempty"`
	HighFreq *metrics.Interval `json:"high_freq,omitempty"`
	// Samples holds the first Keep samples, 8-bit, base64 (see
	// DecodeSamples), for figure cells.
	Samples string `json:"samples,omitempty"`
}

// HighFreqCutoff is the radial frequency above which HighFreq counts
// energy: half the Nyquist frequency, in cycles per pixel.
const HighFreqCutoff = 0.25

// Runner runs the cells of a study on one model.
type Runner struct {
	Config Config
	// Model is the model perturbed, Noise its noise schedule.
	Model *unet.Model
	Noise *diffusion.Schedule
	// Classifier gives the quality measures and the class flips.
	Classifier *metrics.Classifier
	// Dir caches each sampler's reference samples (reference-<sampler>.npz).
	Dir   string
	Batch int
	// Progress, when set, is called after each batch of a cell's samples.
	Progress func(done, total int)

	refs map[string]*reference
}

type reference struct {
	x      []float32
	labels []int64
	pred   []int64
	// prefix replays the unperturbed run's clean steps (nil when the run
	// could not be reproduced bit for bit: cells then compute them).
	prefix *perturb.Prefix
}

// setup returns the evaluation setup of the study's samples.
func (r *Runner) setup(labels []int64) (evaluate.Setup, error) {
	shape, err := r.Model.Config.SampleShape()
	if err != nil {
		return evaluate.Setup{}, err
	}
	batch := r.Batch
	if batch <= 0 {
		batch = 64
	}
	return evaluate.Setup{Noise: r.Noise, Shape: shape, N: r.Config.N, Batch: batch, Seed: r.Config.Seed, Cond: diffusion.Labels(labels), Progress: r.Progress}, nil
}

// reference returns a sampler's unperturbed samples, from the cache file
// when it is there.
func (r *Runner) reference(sampler string) (*reference, error) {
	if ref, ok := r.refs[sampler]; ok {
		return ref, nil
	}
	c := r.Config
	labels, err := evaluate.LabelsFor(c.N, r.Model.Config.NumClasses())
	if err != nil {
		return nil, err
	}
	s, err := r.setup(labels)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(r.Dir, fmt.Sprintf("reference-%s%d-%s-n%d-seed%d.npz", sampler, c.Steps, c.Model, c.N, c.Seed))
	ref := &reference{labels: labels}
	// The unperturbed run, recording its model outputs for the cells to
	// replay; a cached reference from an earlier run is kept (cells done
	// before were compared with it), and the replay is used only when this
	// run reproduces it bit for bit.
	// Cells replay the steps before their start step, so the steps from
	// the latest start on need no record.
	prefix := perturb.NewPrefix(slices.Max(c.From))
	x, err := r.sample(prefix.Recorder(&diffusion.ModelDenoiser{Model: r.Model}), sampler, s)
	if err != nil {
		return nil, err
	}
	ref.x, ref.prefix = x, prefix
	if cached, ok := study.ReadSamples(path, c.N, s.Shape); ok {
		ref.x = cached
		if !slices.Equal(ref.x, x) {
			ref.prefix = nil
		}
	} else if err := study.WriteSamples(path, x, c.N, s.Shape); err != nil {
		return nil, err
	}
	if ref.pred, err = r.Classifier.Predict(ref.x, c.N); err != nil {
		return nil, err
	}
	if r.refs == nil {
		r.refs = map[string]*reference{}
	}
	r.refs[sampler] = ref
	return ref, nil
}

// sample draws the cell's samples with d, as images (evaluate.Draw clips
// them to [−1, 1]).
func (r *Runner) sample(d diffusion.Denoiser, sampler string, s evaluate.Setup) ([]float32, error) {
	out, err := evaluate.Draw(evaluate.Method{Name: sampler, Denoiser: d, Sampler: sampler, Steps: r.Config.Steps}, s)
	return out.X, err
}

// Run runs one cell (a study.Cell of Config.Study).
func (r *Runner) Run(cell study.Cell) (any, error) {
	cs, ok := cell.Spec.(Cell)
	if !ok {
		return nil, fmt.Errorf("cell %s is not a perturbation cell", cell.Key)
	}
	c := r.Config
	ref, err := r.reference(cs.Sampler)
	if err != nil {
		return nil, err
	}
	s, err := r.setup(ref.labels)
	if err != nil {
		return nil, err
	}
	res := Result{N: c.N}
	x := ref.x
	if cs.Tap != "" {
		pd, err := perturb.New(&diffusion.ModelDenoiser{Model: r.Model}, perturb.Perturbation{Tap: cs.Tap, From: cs.From, A: cs.A}, r.Model.Taps(), c.Steps)
		if err != nil {
			return nil, err
		}
		pd.Prefix = ref.prefix
		if x, err = r.sample(pd, cs.Sampler, s); err != nil {
			return nil, err
		}
		if err := r.compare(&res, x, ref); err != nil {
			return nil, err
		}
	}
	rep, err := evaluate.Measure(r.Classifier, evaluate.Method{}, s, evaluate.Drawn{X: x}, metrics.QualityOptions{Seed: c.Seed})
	if err != nil {
		return nil, err
	}
	res.Quality = rep.Quality
	if c.Keep > 0 && (cs.Tap == "" || cs.A == c.FigureA && slices.Contains(c.GridFrom, cs.From)) {
		res.Samples = study.EncodeSamples(x[:c.Keep*s.Shape[0]*s.Shape[1]*s.Shape[2]])
	}
	return res, nil
}

// compare fills the paired measures of perturbed samples x against their
// twins.
func (r *Runner) compare(res *Result, x []float32, ref *reference) error {
	n := r.Config.N
	seed := r.Config.Seed
	l2, _, err := evaluate.Distances(x, ref.x, n, 200, seed)
	if err != nil {
		return err
	}
	res.L2 = &l2
	pred, err := r.Classifier.Predict(x, n)
	if err != nil {
		return err
	}
	flips := make([]bool, n)
	for i := range flips {
		flips[i] = pred[i] != ref.pred[i]
	}
	fr, err := metrics.Hits(flips)
	if err != nil {
		return err
	}
	res.FlipRate = &fr
	sh := r.Config.Shape
	per := sh[0] * sh[1] * sh[2]
	sp := metrics.NewSpectrum(sh[1], sh[2])
	high, total := make([]float64, n), make([]float64, n)
	d := make([]float32, per)
	var sumT float64
	for i := 0; i < n; i++ {
		for j := range d {
			d[j] = x[i*per+j] - ref.x[i*per+j]
		}
		if high[i], total[i], err = sp.HighEnergy(d, HighFreqCutoff); err != nil {
			return err
		}
		sumT += total[i]
	}
	if sumT > 0 {
		hf, err := metrics.Percentile(n, 200, seed+2, func(idx []int) (float64, error) {
			var h, t float64
			for _, i := range idx {
				h += high[i]
				t += total[i]
			}
			if t == 0 {
				return 0, nil
			}
			return h / t, nil
		})
		if err != nil {
			return err
		}
		res.HighFreq = &hf
	}
	return nil
}
