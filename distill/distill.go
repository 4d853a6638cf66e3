package distill

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	G "gorgonia.org/gorgonia"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// Config is a distillation run's settings.
type Config struct {
	Adaptor Spec `json:"adaptor"`
	// Sampler and the adaptor's Steps are the operating point the adaptor
	// is distilled for (one adaptor per sampler and step count, as in the
	// paper); Schedule its adaptor steps (ParseSchedule's syntax).
	Sampler  string `json:"sampler"`
	Schedule string `json:"schedule"`
	// StepCounts, when set, distils one adaptor for several step counts
	// (the schedule applied at each): every epoch's trajectories are split
	// evenly between them. Pair it with Adaptor.StepSize (not required: an
	// adaptor without it sees only the timestep).
	StepCounts []int `json:"step_counts,omitempty"`
	// Data is "unrolled" (teacher trajectories from pure noise, the
	// paper's method) or "noised" (real MNIST training images noised to
	// each step's timestep, the paper's ablation).
	Data string `json:"data"`
	// Epochs of Trajectories fresh trajectories (or noised images) each;
	// Validation held-out trajectories (another seed) measure the loss
	// after each epoch.
	Epochs       int `json:"epochs"`
	Trajectories int `json:"trajectories"`
	Validation   int `json:"validation"`
	// Batch, LR and Decay are Adam's minibatch size, learning rate and its
	// decay (constant or cosine); the paper uses 16 and 1e-4.
	Batch int     `json:"batch"`
	LR    float64 `json:"learning_rate"`
	Decay string  `json:"lr_decay"`
	Seed  uint64  `json:"seed"`
}

// DefaultConfig returns the paper's settings for a ResNet adaptor at the
// default cut, clock 2 at 8 DPM-Solver++(2M) steps, with a budget of epochs
// that fits a toy teacher.
func DefaultConfig() Config {
	return Config{Adaptor: Spec{Kind: "resnet", Width: DefaultWidth("resnet"), Depth: 1, Steps: 8},
		Sampler: "dpmpp2m", Schedule: "clock:2", Data: "unrolled",
		Epochs: 30, Trajectories: 128, Validation: 64, Batch: 16, LR: 1e-4, Decay: "constant"}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if c.Adaptor.Width == 0 {
		c.Adaptor.Width = DefaultWidth(c.Adaptor.Kind)
	}
	if err := c.Adaptor.Validate(); err != nil {
		return err
	}
	switch c.Adaptor.Kind {
	case "identity", "oracle":
		return fmt.Errorf("a %s adaptor has nothing to train", c.Adaptor.Kind)
	}
	if !slices.Contains(diffusion.Samplers, c.Sampler) {
		return fmt.Errorf("unknown sampler %q (have %v)", c.Sampler, diffusion.Samplers)
	}
	if len(c.StepCounts) > 0 {
		if c.Adaptor.Kind == "scaleshift" {
			return fmt.Errorf("a scaleshift adaptor keeps one scale per step: it cannot serve several step counts")
		}
		if !slices.Contains(c.StepCounts, c.Adaptor.Steps) {
			return fmt.Errorf("step counts %v do not include the adaptor's %d steps", c.StepCounts, c.Adaptor.Steps)
		}
		for i, k := range c.StepCounts {
			if k < 1 || slices.Contains(c.StepCounts[:i], k) {
				return fmt.Errorf("step counts %v: each must be a positive step count, given once", c.StepCounts)
			}
		}
		if c.Trajectories < len(c.StepCounts) || c.Validation < len(c.StepCounts) {
			return fmt.Errorf("%d trajectories and %d validation trajectories cannot be split between %d step counts", c.Trajectories, c.Validation, len(c.StepCounts))
		}
	}
	count := 0
	for _, steps := range c.counts() {
		sched, err := ParseSchedule(c.Schedule, steps)
		if err != nil {
			return err
		}
		if err := sched.Validate(c.Adaptor.NeedsPrev()); err != nil {
			return err
		}
		if sched.Count() == 0 {
			return fmt.Errorf("schedule %s has no adaptor step to train", sched)
		}
		if c.Adaptor.StepSize && sched.Adaptor[0] {
			return fmt.Errorf("an adaptor conditioned on the step size cannot run at step 1, which has no step before it: schedule %s", sched)
		}
		count += sched.Count() * c.perCount(steps)
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
// kind, sampler and steps, schedule, and what differs from the defaults.
func (c Config) Name() string {
	steps := fmt.Sprint(c.Adaptor.Steps)
	if len(c.StepCounts) > 0 {
		var parts []string
		for _, k := range c.StepCounts {
			parts = append(parts, fmt.Sprint(k))
		}
		steps = strings.Join(parts, "_")
	}
	s := fmt.Sprintf("%s-%s%s-%s", c.Adaptor.Kind, c.Sampler, steps, strings.NewReplacer(":", "", ",", "_").Replace(c.Schedule))
	if c.Adaptor.Depth != 1 {
		s += fmt.Sprintf("-d%d", c.Adaptor.Depth)
	}
	if c.Adaptor.NoPrev {
		s += "-noprev"
	}
	if c.Data != "unrolled" {
		s += "-" + c.Data
	}
	if c.Adaptor.Width != DefaultWidth(c.Adaptor.Kind) {
		s += fmt.Sprintf("-w%d", c.Adaptor.Width)
	}
	if c.Adaptor.StepSize {
		s += "-dt"
	}
	return s
}

// MemoryEstimate returns the bytes an epoch's records take (the
// distillation's peak beyond the model): trajectories × adaptor steps ×
// (r_in + 2 r_out + embedding), for the teacher's shapes.
func (c Config) MemoryEstimate(a *Adaptor) int64 {
	per := int64(a.cin[0]*a.cin[1]*a.cin[2]+2*a.cout[0]*a.cout[1]*a.cout[2]+a.temb)*4 + 24
	var records int64
	for _, steps := range c.counts() {
		sched, _ := ParseSchedule(c.Schedule, steps)
		records += int64(c.split(c.Trajectories, steps)+c.split(c.Validation, steps)) * int64(sched.Count())
	}
	return records * per
}

// Manifest is adaptor.json: what an adaptor is and what it was distilled
// for.
type Manifest struct {
	Spec       Spec   `json:"spec"`
	Teacher    string `json:"teacher"` // unet.Model.Fingerprint
	TeacherDir string `json:"teacher_dir"`
	Sampler    string `json:"sampler"`
	Steps      int    `json:"steps"`
	// StepCounts are the step counts an adaptor distilled for several
	// serves (empty: Steps alone).
	StepCounts []int  `json:"step_counts,omitempty"`
	Schedule   string `json:"schedule"`
	Config     Config `json:"config"`
	Epochs     int    `json:"epochs_done"`
	// ValLoss is the adaptor's mean squared error on r_out at the
	// held-out trajectories' adaptor steps; IdentityValLoss the identity
	// adaptor's on the same records.
	ValLoss         float64 `json:"val_loss"`
	IdentityValLoss float64 `json:"identity_val_loss"`
	Params          int     `json:"parameters"`
	FLOPs           int64   `json:"flops_per_sample"`
	// Seconds is the distillation's wall time, over all its runs.
	Seconds float64 `json:"seconds"`
}

// File names in an adaptor directory.
const (
	ManifestFile = "adaptor.json"
	WeightsFile  = "adaptor.npz"
)

// Save writes an adaptor directory.
func Save(dir string, a *Adaptor, m Manifest) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := train.SaveParams(filepath.Join(dir, WeightsFile), a.Params); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(filepath.Join(dir, ManifestFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// ReadManifest reads adaptor.json.
func ReadManifest(dir string) (Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("adaptor %s: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.Spec.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Load reads an adaptor directory for a teacher. Unless force is set it
// refuses an adaptor distilled for another teacher, sampler or step count,
// naming both.
func Load(dir string, teacher *unet.Model, sampler string, steps int, force bool) (*Adaptor, Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, Manifest{}, err
	}
	if !force {
		if fp := teacher.Fingerprint(); m.Teacher != fp {
			return nil, m, fmt.Errorf("adaptor %s was distilled for teacher %s (%s); this teacher is %s: distil one for it, or -force", dir, m.Teacher, m.TeacherDir, fp)
		}
		counts := m.StepCounts
		if len(counts) == 0 {
			counts = []int{m.Steps}
		}
		if m.Sampler != sampler || !slices.Contains(counts, steps) {
			return nil, m, fmt.Errorf("adaptor %s was distilled for %s at %s steps, not %s at %d steps: distil one for this operating point, or -force", dir, m.Sampler, countsString(counts), sampler, steps)
		}
	}
	a, err := New(teacher, m.Spec, 0)
	if err != nil {
		return nil, m, fmt.Errorf("adaptor %s: %w", dir, err)
	}
	if err := train.LoadParams(filepath.Join(dir, WeightsFile), a.Params); err != nil {
		return nil, m, fmt.Errorf("adaptor %s: %w", dir, err)
	}
	return a, m, nil
}

func countsString(c []int) string {
	var parts []string
	for _, k := range c {
		parts = append(parts, fmt.Sprint(k))
	}
	return strings.Join(parts, ", ")
}

// Distiller distils an adaptor from a teacher (model-step distillation,
// Habibian et al., CVPR 2024, Sec. 4.4 and App. Alg. 1).
type Distiller struct {
	// Dir is the adaptor directory the distillation writes (checkpoints,
	// metrics.jsonl, and at the end adaptor.json and adaptor.npz).
	Dir string
	// Config is the distillation's settings.
	Config Config
	// Teacher is the model distilled, TeacherDir where it was loaded from
	// (recorded in adaptor.json), Noise its noise schedule.
	Teacher    *unet.Model
	TeacherDir string
	Noise      *diffusion.Schedule
	// Adaptor is the adaptor being trained, Opt its Adam optimiser.
	Adaptor *Adaptor
	Opt     *nn.Adam
	// Epoch is the number of epochs done.
	Epoch int
	// Seconds is the wall time spent distilling so far (over resumes).
	Seconds float64
	// Data is the image set of forward-noised distillation.
	Data *datasets.Images
	// UnrollBatch is the sampling batch of the trajectories (results do
	// not depend on it); default 64.
	UnrollBatch int
	// Progress, when set, is called after every epoch.
	Progress func(train.Progress)
	// Log, when set, gets a line per epoch.
	Log io.Writer
	// Source, when set, supplies the epochs' records: distillers that
	// share one train on the same trajectories, unrolled once.
	Source *Source
	// Note is what ResumeDistiller did that the user should know (a
	// checkpoint adopted because the latest was lost); empty otherwise.
	Note string

	sched  Schedule
	rngSrc *rand.PCG
	rng    *rand.Rand
	f      *nn.Func
	val    *Records
	last   EpochMetrics
}

// EpochMetrics is one line of a distillation's metrics.jsonl.
type EpochMetrics struct {
	Step            int     `json:"step"` // epochs done
	TrainLoss       float64 `json:"train_loss"`
	ValLoss         float64 `json:"val_loss"`
	IdentityValLoss float64 `json:"identity_val_loss"`
	LR              float64 `json:"lr"`
	Records         int     `json:"records"`
	RecordsMB       float64 `json:"records_mb"`
}

// NewDistiller prepares a distillation into dir (which must hold no
// checkpoint). data is needed for forward-noised distillation only.
func NewDistiller(dir string, teacher *unet.Model, teacherDir string, noise *diffusion.Schedule, c Config, data *datasets.Images) (*Distiller, error) {
	switch has, err := train.HasCheckpoint(dir); {
	case err != nil:
		return nil, err
	case has:
		return nil, fmt.Errorf("%s already holds a distillation: resume it or choose another directory", dir)
	}
	return newDistiller(dir, teacher, teacherDir, noise, c, data)
}

func newDistiller(dir string, teacher *unet.Model, teacherDir string, noise *diffusion.Schedule, c Config, data *datasets.Images) (*Distiller, error) {
	if c.Adaptor.Width == 0 {
		c.Adaptor.Width = DefaultWidth(c.Adaptor.Kind)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Data == "noised" && data == nil {
		return nil, fmt.Errorf("forward-noised distillation needs an image set")
	}
	a, err := New(teacher, c.Adaptor, c.Seed)
	if err != nil {
		return nil, err
	}
	if err := sysmem.Check(float64(c.MemoryEstimate(a)), fmt.Sprintf("trajectories %d and validation %d (an epoch's records)", c.Trajectories, c.Validation)); err != nil {
		return nil, err
	}
	sched, _ := ParseSchedule(c.Schedule, c.Adaptor.Steps)
	d := &Distiller{Dir: dir, Config: c, Teacher: teacher, TeacherDir: teacherDir, Noise: noise, Adaptor: a, Data: data, sched: sched}
	d.Opt = nn.NewAdam(c.LR)
	d.rngSrc = rand.NewPCG(c.Seed, 0xd157)
	d.rng = rand.New(d.rngSrc)
	shapes := append(a.shapes(c.Batch), []int{c.Batch, a.cout[0], a.cout[1], a.cout[2]})
	d.f, err = nn.NewFunc(nn.FuncSpec{Params: a.Params, Frozen: []*nn.Params{teacher.Params}, Inputs: shapes, Grad: true,
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			return []*G.Node{nn.MSE(a.Graph(g, in[:len(in)-1]), in[len(in)-1])}, nil
		}})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// ResumeDistiller continues the distillation in dir from its latest
// checkpoint, with the settings saved there.
//
// When the latest checkpoint is missing or incomplete (a run killed before
// writing its latest file) the newest complete one is adopted, and Note
// says so; a checkpoint that does not check out is an error naming the file
// and the problem.
func ResumeDistiller(dir string, teacher *unet.Model, teacherDir string, noise *diffusion.Schedule, data *datasets.Images) (*Distiller, error) {
	names := []string{WeightsFile, "adam.npz", "state.json"}
	ck, note, err := train.Find(dir, -1, names...)
	if err != nil {
		return nil, err
	}
	damaged := func(err error) error {
		return train.Damaged(dir, ck, err, names, func(step int) string {
			return fmt.Sprintf("remove %s and resume, which then continues from %s", ck, train.StepName(step))
		})
	}
	b, err := os.ReadFile(filepath.Join(ck, "state.json"))
	if err != nil {
		return nil, damaged(err)
	}
	var st distillState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, damaged(fmt.Errorf("%s: %w", filepath.Join(ck, "state.json"), err))
	}
	if fp := teacher.Fingerprint(); st.Teacher != fp {
		return nil, fmt.Errorf("%s distils teacher %s; this teacher is %s", dir, st.Teacher, fp)
	}
	d, err := newDistiller(dir, teacher, teacherDir, noise, st.Config, data)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	if err := d.checkpoint().Load(ck); err != nil {
		return nil, damaged(err)
	}
	d.Note = note
	return d, nil
}

// CheckpointConfig returns the settings of the distillation in dir, from its
// newest complete checkpoint: what a resume continues with (a command reads
// it to know, say, whether the run needs MNIST images).
func CheckpointConfig(dir string) (Config, error) {
	ck, _, err := train.Find(dir, -1, WeightsFile, "adam.npz", "state.json")
	if err != nil {
		return Config{}, err
	}
	b, err := os.ReadFile(filepath.Join(ck, "state.json"))
	if err != nil {
		return Config{}, err
	}
	var st distillState
	if err := json.Unmarshal(b, &st); err != nil {
		return Config{}, fmt.Errorf("%s: %w", filepath.Join(ck, "state.json"), err)
	}
	return st.Config, nil
}

type distillState struct {
	Epoch     int     `json:"step"`
	Seconds   float64 `json:"seconds"`
	RNG       []byte  `json:"rng"`
	AdamSteps int     `json:"adam_steps"`
	Teacher   string  `json:"teacher"`
	Config    Config  `json:"config"`
}

func (d *Distiller) checkpoint() *train.Checkpoint {
	return &train.Checkpoint{
		Parts: []train.Part{train.ParamsPart(WeightsFile, d.Adaptor.Params), train.AdamPart("adam.npz", d.Opt, d.Adaptor.Params)},
		State: train.JSONPart("state.json", func() any {
			rng, _ := d.rngSrc.MarshalBinary()
			return distillState{Epoch: d.Epoch, Seconds: d.Seconds, RNG: rng, AdamSteps: d.Opt.Steps, Teacher: d.Teacher.Fingerprint(), Config: d.Config}
		}, func(b []byte) error {
			var st distillState
			if err := json.Unmarshal(b, &st); err != nil {
				return err
			}
			if st.Epoch < 0 || st.AdamSteps < 0 || (st.Epoch == 0) != (st.AdamSteps == 0) || !(st.Seconds >= 0) || math.IsInf(st.Seconds, 0) {
				return fmt.Errorf("epoch %d, adam_steps %d and seconds %g are out of range or disagree", st.Epoch, st.AdamSteps, st.Seconds)
			}
			if err := d.rngSrc.UnmarshalBinary(st.RNG); err != nil {
				return fmt.Errorf("random state: %w", err)
			}
			d.Epoch, d.Opt.Steps, d.Seconds = st.Epoch, st.AdamSteps, st.Seconds
			return nil
		}),
		Step: func() int { return d.Epoch },
	}
}

// epochSeed is the noise seed of an epoch's trajectories; the validation
// trajectories use their own.
func (d *Distiller) epochSeed(epoch int) uint64 {
	return d.Config.Seed ^ (uint64(epoch+1) * 0x9e3779b97f4a7c15)
}

// epochRecords returns an epoch's training records.
func (d *Distiller) epochRecords(epoch int) (*Records, error) {
	if d.Source != nil {
		return d.Source.epoch(d, epoch)
	}
	return d.generate(d.Config.Trajectories, d.epochSeed(epoch))
}

// validation returns the held-out records.
func (d *Distiller) validation() (*Records, error) {
	if d.val != nil {
		return d.val, nil
	}
	var err error
	if d.Source != nil {
		d.val, err = d.Source.validation(d)
	} else {
		d.val, err = d.generate(d.Config.Validation, d.Config.Seed^0x5a1d5a1d5a1d5a1d)
	}
	return d.val, err
}

// generate unrolls (or noises) n trajectories from seed: for an adaptor of
// several step counts, n split between them, each count with its own seed.
func (d *Distiller) generate(n int, seed uint64) (*Records, error) {
	b := d.UnrollBatch
	if b <= 0 {
		b = 64
	}
	c := d.Config
	var all *Records
	for i, steps := range c.counts() {
		k := c.split(n, steps)
		if k == 0 {
			continue
		}
		sched, err := ParseSchedule(c.Schedule, steps)
		if err != nil {
			return nil, err
		}
		s := seed
		if len(c.StepCounts) > 0 {
			s = seed ^ uint64(i+1)<<56
		}
		var rec *Records
		if c.Data == "noised" {
			rec, err = Noised(d.Teacher, d.Adaptor, d.Noise, sched, c.Sampler, d.Data, k, b, s)
		} else {
			rec, err = Unroll(d.Teacher, d.Adaptor, d.Noise, sched, diffusion.Options{Sampler: c.Sampler, Seed: s}, k, b)
		}
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = rec
		} else {
			all.appendRecords(rec)
		}
	}
	return all, nil
}

// recordsKey is what fixes an epoch's records.
type recordsKey struct {
	sampler, schedule, data string
	steps, depth            int
	counts                  string
	trajectories, val       int
	seed                    uint64
}

// RecordsKey names what fixes the distiller's records (operating point,
// step counts, schedule, cut, data, trajectories and seed): distillers with
// the same key can share a Source.
func (d *Distiller) RecordsKey() string { return fmt.Sprintf("%+v", d.key()) }

func (d *Distiller) key() recordsKey {
	c := d.Config
	return recordsKey{c.Sampler, c.Schedule, c.Data, c.Adaptor.Steps, c.Adaptor.Depth, countsString(c.StepCounts), c.Trajectories, c.Validation, c.Seed}
}

// Source shares the records of each epoch between distillers of the same
// teacher, operating point, cut, data and seed (adaptors of other kinds or
// widths), so that each epoch's trajectories are unrolled once: a group of
// distillers run side by side (each in its own goroutine) costs little
// more than one. Records of an epoch are dropped once every member has
// taken them.
type Source struct {
	mu      sync.Mutex
	members int
	key     *recordsKey
	epochs  map[int]*sourceEntry
	val     *Records
}

type sourceEntry struct {
	once  sync.Once
	rec   *Records
	err   error
	taken int
}

// NewSource returns a source for members distillers.
func NewSource(members int) *Source {
	return &Source{members: members, epochs: map[int]*sourceEntry{}}
}

// gen serialises record generation: the teacher is not safe for
// concurrent use.
var gen sync.Mutex

func (s *Source) check(d *Distiller) error {
	k := d.key()
	if s.key == nil {
		s.key = &k
	} else if *s.key != k {
		return fmt.Errorf("distillers of different operating points, cuts, data or seeds cannot share records (%+v and %+v)", *s.key, k)
	}
	return nil
}

// leave takes a member out of the source (its distillation ended, or
// failed): records are no longer kept for it.
func (s *Source) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members--
	for e, entry := range s.epochs {
		if entry.taken >= s.members {
			delete(s.epochs, e)
		}
	}
}

func (s *Source) epoch(d *Distiller, epoch int) (*Records, error) {
	s.mu.Lock()
	if err := s.check(d); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	e, ok := s.epochs[epoch]
	if !ok {
		e = &sourceEntry{}
		s.epochs[epoch] = e
	}
	s.mu.Unlock()
	e.once.Do(func() {
		gen.Lock()
		defer gen.Unlock()
		e.rec, e.err = d.generate(d.Config.Trajectories, d.epochSeed(epoch))
	})
	s.mu.Lock()
	e.taken++
	if e.taken >= s.members {
		delete(s.epochs, epoch)
	}
	s.mu.Unlock()
	return e.rec, e.err
}

func (s *Source) validation(d *Distiller) (*Records, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(d); err != nil {
		return nil, err
	}
	if s.val == nil {
		gen.Lock()
		v, err := d.generate(d.Config.Validation, d.Config.Seed^0x5a1d5a1d5a1d5a1d)
		gen.Unlock()
		if err != nil {
			return nil, err
		}
		s.val = v
	}
	return s.val, nil
}

// Validate returns the adaptor's and the identity adaptor's mean squared
// error on r_out over records.
func (d *Distiller) Validate(r *Records) (adaptor, identity float64, err error) {
	a := d.Adaptor
	const b = 64
	var sa, si float64
	var n int
	for start := 0; start < r.N; start += b {
		idx := make([]int, 0, b)
		for i := start; i < min(start+b, r.N); i++ {
			idx = append(idx, i)
		}
		in, target := r.batch(idx, a) // rows carry their own steps (RowSteps)
		out, err := a.Apply(in)
		if err != nil {
			return 0, 0, err
		}
		o, p, t := out.Data().([]float32), in.ROutPrev.Data().([]float32), target.Data().([]float32)
		for i, v := range t {
			e := float64(o[i] - v)
			sa += e * e
			f := float64(p[i] - v)
			si += f * f
		}
		n += len(t)
	}
	return sa / float64(n), si / float64(n), nil
}

// epoch unrolls fresh trajectories and makes one pass over their records
// in minibatches.
func (d *Distiller) epoch(epoch int) error {
	start := time.Now()
	defer func() { d.Seconds += time.Since(start).Seconds() }()
	c := d.Config
	rec, err := d.epochRecords(epoch)
	if err != nil {
		return fmt.Errorf("epoch %d: trajectories: %w", epoch+1, err)
	}
	perm := d.rng.Perm(rec.N)
	lr := train.LR{Peak: c.LR, Decay: c.Decay, Steps: c.Epochs}.At(epoch)
	d.Opt.LR = lr
	var sum float64
	steps := rec.N / c.Batch
	for s := 0; s < steps; s++ {
		in, target := rec.batch(perm[s*c.Batch:(s+1)*c.Batch], d.Adaptor)
		gin, err := d.Adaptor.graphIn(in)
		if err != nil {
			return err
		}
		if _, err := d.f.Call(append(gin, target)...); err != nil {
			return fmt.Errorf("epoch %d: %w", epoch+1, err)
		}
		l := d.f.Scalar(0)
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("epoch %d: loss is %v; stopped with the last checkpoint kept", epoch+1, l)
		}
		sum += l
		names, grads := d.f.Gradients()
		if err := d.Opt.Update(d.Adaptor.Params, names, grads); err != nil {
			return fmt.Errorf("epoch %d: %w", epoch+1, err)
		}
	}
	val, err := d.validation()
	if err != nil {
		return fmt.Errorf("validation trajectories: %w", err)
	}
	va, vi, err := d.Validate(val)
	if err != nil {
		return err
	}
	d.Epoch = epoch + 1
	d.last = EpochMetrics{Step: d.Epoch, TrainLoss: sum / float64(max(steps, 1)), ValLoss: va, IdentityValLoss: vi, LR: lr,
		Records: rec.N, RecordsMB: float64(rec.Bytes()+d.val.Bytes()) / 1e6}
	if d.Log != nil {
		fmt.Fprintf(d.Log, "epoch %d: train loss %.5f, validation loss %.5f (identity %.5f)\n", d.Epoch, d.last.TrainLoss, va, vi)
	}
	return nil
}

// Run distils until Config.Epochs, checkpointing every epoch, and writes
// the adaptor directory (adaptor.json, adaptor.npz) into Dir. On a
// cancelled context it checkpoints and returns train.ErrInterrupted.
func (d *Distiller) Run(ctx context.Context) error {
	if d.Source != nil {
		defer d.Source.leave()
	}
	l := &train.Loop{Dir: d.Dir, Steps: d.Config.Epochs, Done: d.Epoch, Step: d.epoch,
		Checkpoint: d.checkpoint(), CheckpointEvery: 1, LogEvery: 1,
		Log:      func(int, float64) any { return d.last },
		Progress: d.Progress,
		Status: func() string {
			return fmt.Sprintf("val loss %.5f (identity %.5f)", d.last.ValLoss, d.last.IdentityValLoss)
		},
	}
	if err := l.Run(ctx); err != nil {
		return err
	}
	if d.val == nil { // resumed at the end: measure once more
		val, err := d.validation()
		if err != nil {
			return err
		}
		if d.last.ValLoss, d.last.IdentityValLoss, err = d.Validate(val); err != nil {
			return err
		}
	}
	return Save(d.Dir, d.Adaptor, d.Manifest())
}

// Manifest describes the adaptor as distilled so far.
func (d *Distiller) Manifest() Manifest {
	return Manifest{Spec: d.Adaptor.Spec, Teacher: d.Teacher.Fingerprint(), TeacherDir: d.TeacherDir,
		Sampler: d.Config.Sampler, Steps: d.Adaptor.Spec.Steps, StepCounts: d.Config.StepCounts, Schedule: d.sched.Spec(), Config: d.Config, Epochs: d.Epoch,
		ValLoss: d.last.ValLoss, IdentityValLoss: d.last.IdentityValLoss, Params: d.Adaptor.Params.Count(), FLOPs: d.Adaptor.FLOPs(),
		Seconds: d.Seconds}
}
