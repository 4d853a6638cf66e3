package distill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// Manifest is adaptor.json: what an adaptor is and what it was distilled
// for.
type Manifest struct {
	Adaptor    AdaptorConfig `json:"spec"`
	Teacher    string        `json:"teacher"` // unet.Model.Fingerprint
	TeacherDir string        `json:"teacher_dir"`
	Sampler    string        `json:"sampler"`
	Steps      int           `json:"steps"`
	// StepCounts are the step counts an adaptor distilled for several
	// serves (empty: Steps alone).
	StepCounts []int `json:"step_counts,omitempty"`
	// Strength, in (0, 1), says the adaptor serves edits started part-way
	// from their source (Config.Strength): the last int(Steps·Strength)
	// steps, which its clock covers. Absent: runs from pure noise.
	Strength float64 `json:"strength,omitempty"`
	Clock    string  `json:"schedule"`
	Config   Config  `json:"config"`
	Epochs   int     `json:"epochs_done"`
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

// Save writes an adaptor directory: adaptor.json, and adaptor.npz for an
// adaptor with parameters.
func Save(dir string, a Adaptor, m Manifest) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if t, ok := a.(Trainable); ok {
		if err := train.SaveParams(filepath.Join(dir, WeightsFile), t.Params()); err != nil {
			return err
		}
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

// ReadManifest reads adaptor.json; an unknown key is an error naming it.
func ReadManifest(dir string) (Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("adaptor %s: %w", dir, err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt key is an error, not a default
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.Adaptor.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	if m.Strength != 0 && !FromSource(m.Strength) {
		return Manifest{}, fmt.Errorf("%s: strength %g: want a strength in (0, 1), or none for runs from noise", path, m.Strength)
	}
	return m, nil
}

// runStrength is a run's strength as a manifest states it: 0 for a run
// from pure noise (strength 0 or 1).
func runStrength(strength float64) float64 {
	if FromSource(strength) {
		return strength
	}
	return 0
}

// describeRun names a run's steps for messages: "8 steps from noise", "the
// last 4 of 6 steps from the source (strength 0.67)".
func describeRun(steps int, strength float64) string {
	if !FromSource(strength) {
		return fmt.Sprintf("%d steps from noise", steps)
	}
	k, _ := diffusion.StepsFrom(steps, strength)
	return fmt.Sprintf("the last %d of %d steps from the source (strength %g)", k, steps, strength)
}

// Load reads an adaptor directory for a teacher's runs from pure noise.
// Unless force is set it refuses an adaptor distilled for another
// teacher, sampler or step count, or for runs from the source, naming
// both.
func Load(dir string, teacher *unet.Model, sampler string, steps int, force bool) (Adaptor, Manifest, error) {
	return LoadFrom(dir, teacher, sampler, steps, 0, force)
}

// LoadFrom is Load for runs started at strength (diffusion.Options.Strength:
// 0 or 1 from pure noise, in (0, 1) the last steps from a source image):
// unless force is set it refuses an adaptor distilled for runs started
// otherwise, whose clock covers other steps.
func LoadFrom(dir string, teacher *unet.Model, sampler string, steps int, strength float64, force bool) (Adaptor, Manifest, error) {
	if _, err := diffusion.StepsFrom(steps, strength); err != nil {
		return nil, Manifest{}, err
	}
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
			return nil, m, fmt.Errorf("adaptor %s was distilled for %s at %s steps, not %s at %d steps: distil one for this operating point, or -force", dir, m.Sampler, joinInts(counts, ", "), sampler, steps)
		}
		if runStrength(strength) != m.Strength {
			return nil, m, fmt.Errorf("adaptor %s was distilled for %s, not %s: distil one for this operating point (distill -strength)", dir, describeRun(steps, m.Strength), describeRun(steps, strength))
		}
	}
	a, err := New(teacher, m.Adaptor, 0)
	if err != nil {
		return nil, m, fmt.Errorf("adaptor %s: %w", dir, err)
	}
	if t, ok := a.(Trainable); ok {
		if err := train.LoadParams(filepath.Join(dir, WeightsFile), t.Params()); err != nil {
			return nil, m, fmt.Errorf("adaptor %s: %w", dir, err)
		}
	}
	return a, m, nil
}

// Open returns the Clockwork denoiser a command asks for, for runs of
// steps steps of sampler from pure noise: adaptor is a training-free
// kind's name ("identity", with depth) or an adaptor directory; clock is
// ParseClock's syntax, empty for the directory's own (or clock 2 for a
// training-free kind). force loads an adaptor distilled for another
// teacher or operating point.
func Open(teacher *unet.Model, adaptor string, depth int, sampler string, steps int, clock string, force bool) (*Clockwork, Manifest, error) {
	return OpenFrom(teacher, adaptor, depth, sampler, steps, 0, clock, force)
}

// OpenFrom is Open for runs started at strength (diffusion.Options.Strength:
// 0 or 1 from pure noise; in (0, 1) the last int(steps·strength) steps,
// from a source image noised to the first of them, as an edit from its
// source runs): the clock covers the model evaluations such a run makes,
// and a distilled adaptor must have been distilled for it (LoadFrom).
func OpenFrom(teacher *unet.Model, adaptor string, depth int, sampler string, steps int, strength float64, clock string, force bool) (*Clockwork, Manifest, error) {
	var a Adaptor
	var man Manifest
	var err error
	if k, kerr := LookupKind(adaptor); kerr == nil && !k.Trainable {
		if a, err = New(teacher, AdaptorConfig{Kind: adaptor, Depth: depth, Steps: steps}, 0); err != nil {
			return nil, man, err
		}
		if clock == "" {
			clock = "clock:2"
		}
		man = Manifest{Adaptor: a.Config(), Teacher: teacher.Fingerprint(), Sampler: sampler, Steps: steps, Strength: runStrength(strength), Clock: clock}
	} else {
		if a, man, err = LoadFrom(adaptor, teacher, sampler, steps, strength, force); err != nil {
			return nil, man, err
		}
		if clock == "" {
			clock = man.Clock
		}
	}
	evals, err := RunEvals(sampler, steps, strength)
	if err != nil {
		return nil, man, err
	}
	c, err := ParseClock(clock, evals)
	if err != nil {
		return nil, man, err
	}
	cw, err := NewClockwork(teacher, a, c)
	if err != nil {
		return nil, man, fmt.Errorf("adaptor %s: %w", adaptor, err)
	}
	man.Clock = c.Format()
	return cw, man, nil
}
