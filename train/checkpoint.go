package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/weightio"
	"github.com/clockwork-go/clockwork/nn"
)

// A run directory keeps its checkpoints in checkpoints/step-NNNNNNNN, each
// holding every part a resumed run needs. A checkpoint is written under a
// temporary name, every file synced, and renamed into place; the file
// checkpoints/latest then names it (itself replaced atomically). A write
// interrupted at any point leaves the previous checkpoint as latest.
const (
	CheckpointDir = "checkpoints"
	LatestFile    = "latest"
)

// Part is one piece of a checkpoint: a file (or directory) that Save writes
// into a checkpoint directory and Load reads back.
type Part struct {
	Name string // file or directory name inside the checkpoint
	Save func(dir string) error
	Load func(dir string) error
}

// Checkpoint says what a run's checkpoints hold.
type Checkpoint struct {
	// Parts are written in order; State (a small file, state.json by
	// convention) is written last. When the latest checkpoint already is
	// the step's (an interrupt right after a scheduled checkpoint, or before
	// the first step of a resumed run), only State is rewritten.
	Parts []Part
	State Part
	// Keep is how many of the newest checkpoints are kept (default 2); the
	// one latest names is never removed.
	Keep int
	// AfterPart, when set, is called after each part is written, with the
	// part's name; an error aborts the checkpoint as a crash there would
	// (tests use it).
	AfterPart func(name string) error
	// Step, when set, returns the step the State part restored; Load
	// checks it against the checkpoint directory's name.
	Step func() int
}

// Names returns the names of the files (or directories) a complete
// checkpoint holds: the parts' and the state's.
func (c *Checkpoint) Names() []string {
	var names []string
	for _, p := range c.Parts {
		names = append(names, p.Name)
	}
	return append(names, c.State.Name)
}

// StepName is the directory name of the checkpoint of a step.
func StepName(step int) string { return fmt.Sprintf("step-%08d", step) }

// Save writes the parts as the checkpoint of step in runDir and makes it the
// latest.
func (c *Checkpoint) Save(runDir string, step int) error {
	root := filepath.Join(runDir, CheckpointDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	name := StepName(step)
	final := filepath.Join(root, name)
	after := func(p string) error {
		if c.AfterPart != nil {
			return c.AfterPart(p)
		}
		return nil
	}
	if latest, err := Latest(runDir); err == nil && latest == final {
		// Its arrays are this state's, as no step ran since; only the
		// settings may differ (a resume with a new step count). Replacing
		// the directory would leave latest dangling for a moment.
		return c.State.Save(final)
	}
	tmp := filepath.Join(root, ".tmp-"+name)
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	// A failed write (a full disk) removes what it wrote; only a process
	// killed mid-write leaves a temporary directory, for the next run to
	// remove.
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	for _, p := range c.Parts {
		if err := p.Save(tmp); err != nil {
			return err
		}
		if err := after(p.Name); err != nil {
			return err
		}
	}
	if err := c.State.Save(tmp); err != nil {
		return err
	}
	if err := after(c.State.Name); err != nil {
		return err
	}
	if err := os.RemoveAll(final); err != nil { // an incomplete one
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	done = true
	if err := writeLatest(root, name); err != nil {
		return err
	}
	keep := c.Keep
	if keep <= 0 {
		keep = 2
	}
	entries, _ := os.ReadDir(root)
	var steps []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "step-") {
			steps = append(steps, e.Name())
		}
	}
	sort.Strings(steps)
	for i := 0; i < len(steps)-keep; i++ {
		if steps[i] != name {
			os.RemoveAll(filepath.Join(root, steps[i]))
		}
	}
	return nil
}

// Load reads every part from the checkpoint directory dir (State first, so
// that parts may depend on the settings it restores), verifying as it goes:
// the step State restores must be the one the directory is named for, and
// each part checks what it reads. The error names the file and what is
// wrong with it.
func (c *Checkpoint) Load(dir string) error {
	for _, name := range c.Names() {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("checkpoint %s is incomplete: %w", dir, err)
		}
	}
	if err := c.State.Load(dir); err != nil {
		return err
	}
	if c.Step != nil {
		if want, ok := ParseStepName(filepath.Base(dir)); ok && c.Step() != want {
			return fmt.Errorf("%s: step %d disagrees with the checkpoint's directory name %s", filepath.Join(dir, c.State.Name), c.Step(), filepath.Base(dir))
		}
	}
	for _, p := range c.Parts {
		if err := p.Load(dir); err != nil {
			return err
		}
	}
	return nil
}

// writeLatest makes the checkpoint name the latest one of a run's
// checkpoint directory root, atomically.
func writeLatest(root, name string) error {
	return fsutil.WriteAtomic(filepath.Join(root, LatestFile), func(w io.Writer) error {
		_, err := io.WriteString(w, name+"\n")
		return err
	})
}

// ParseStepName returns the step of a checkpoint directory name
// (StepName's form), and false for any other name.
func ParseStepName(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "step-")
	if !ok || len(digits) < 8 {
		return 0, false
	}
	step, err := strconv.Atoi(digits)
	if err != nil || step < 0 || StepName(step) != name {
		return 0, false
	}
	return step, true
}

// Steps returns the steps of a run's checkpoint directories, ascending
// (complete or not; none when the run has no checkpoints directory).
func Steps(runDir string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(runDir, CheckpointDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range entries {
		if step, ok := ParseStepName(e.Name()); ok && e.IsDir() {
			steps = append(steps, step)
		}
	}
	sort.Ints(steps)
	return steps, nil
}

// Complete reports, as an error naming what is missing, whether the
// checkpoint directory dir holds every one of names (Checkpoint.Names).
// Checkpoints are renamed into place only once written, so a complete one
// was written whole; what its files hold is verified when it is loaded.
func Complete(dir string, names ...string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("it lacks %s", n)
		}
	}
	return nil
}

// Find returns the checkpoint directory a resumed run continues from, and a
// note when it is not the one the latest file names. With from ≥ 0 it is
// the checkpoint of step from, which must be complete. Otherwise it is the
// newest complete checkpoint, which is normally the one latest names:
// when the latest file is missing (a run killed after writing its first
// checkpoint and before the latest file), cannot be parsed, names a
// checkpoint that is missing or incomplete, or names an older one than a
// complete checkpoint renamed into place just before a crash, the newest
// complete checkpoint is adopted and the note says so. names are what a
// complete checkpoint holds (Checkpoint.Names). The error wraps
// fs.ErrNotExist when the run has no checkpoint at all.
func Find(runDir string, from int, names ...string) (dir, note string, err error) {
	steps, err := Steps(runDir)
	if err != nil {
		return "", "", fmt.Errorf("run %s: %w", runDir, err)
	}
	var ok []int // the complete checkpoints' steps, ascending
	for _, s := range steps {
		if Complete(filepath.Join(runDir, CheckpointDir, StepName(s)), names...) == nil {
			ok = append(ok, s)
		}
	}
	listed := func() string {
		if len(ok) == 0 {
			return "it has no complete checkpoint"
		}
		var s []string
		for _, k := range ok {
			s = append(s, strconv.Itoa(k))
		}
		return "its complete checkpoints are at steps " + strings.Join(s, ", ")
	}
	if from >= 0 {
		dir := filepath.Join(runDir, CheckpointDir, StepName(from))
		if err := Complete(dir, names...); err != nil {
			return "", "", fmt.Errorf("run %s has no complete checkpoint at step %d (%v); %s", runDir, from, err, listed())
		}
		return dir, "", nil
	}
	latest, lerr := Latest(runDir)
	if errors.Is(lerr, fs.ErrNotExist) && len(steps) == 0 {
		return "", "", lerr
	}
	var newest string
	if len(ok) > 0 {
		newest = filepath.Join(runDir, CheckpointDir, StepName(ok[len(ok)-1]))
	}
	if lerr == nil && latest == newest {
		return latest, "", nil
	}
	var problem string
	switch {
	case lerr == nil:
		if cerr := Complete(latest, names...); cerr != nil {
			problem = fmt.Sprintf("its %s file names %s, but %v", LatestFile, filepath.Base(latest), cerr)
		} else {
			problem = fmt.Sprintf("its %s file names %s, but %s after it is complete (a run killed before its %s file was updated)", LatestFile, filepath.Base(latest), filepath.Base(newest), LatestFile)
		}
	case errors.Is(lerr, fs.ErrNotExist):
		problem = fmt.Sprintf("it has no %s file (a run killed before writing it)", LatestFile)
	default:
		problem = lerr.Error()
	}
	if newest == "" {
		return "", "", fmt.Errorf("run %s: %s, and %s", runDir, problem, listed())
	}
	return newest, fmt.Sprintf("run %s: %s; continuing from %s, its newest complete checkpoint", runDir, problem, filepath.Base(newest)), nil
}

// Damaged wraps the error of loading checkpoint dir of runDir (a
// checkpoint whose files do not check out): the message names the
// checkpoint, what is wrong, and the newest earlier complete checkpoint,
// with how to continue from it: hint(step) ("continue from it with -resume
// -from STEP" when hint is nil). names are what a complete checkpoint holds.
func Damaged(runDir, dir string, err error, names []string, hint func(step int) string) error {
	if hint == nil {
		hint = func(step int) string {
			return fmt.Sprintf("continue from it with -resume -from %d (the later checkpoints are then discarded)", step)
		}
	}
	bad, _ := ParseStepName(filepath.Base(dir))
	steps, _ := Steps(runDir)
	for i := len(steps) - 1; i >= 0; i-- {
		if s := steps[i]; s < bad && Complete(filepath.Join(runDir, CheckpointDir, StepName(s)), names...) == nil {
			return fmt.Errorf("checkpoint %s cannot be resumed: %w; the newest earlier complete checkpoint is %s: %s", dir, err, StepName(s), hint(s))
		}
	}
	return fmt.Errorf("checkpoint %s cannot be resumed: %w; the run has no earlier complete checkpoint to continue from: start a new run in another directory", dir, err)
}

// Latest returns the directory of a run's latest checkpoint, or an error
// wrapping fs.ErrNotExist when it has none.
func Latest(runDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(runDir, CheckpointDir, LatestFile))
	if err != nil {
		return "", fmt.Errorf("run %s has no checkpoint: %w", runDir, err)
	}
	name := strings.TrimSpace(string(b))
	if !strings.HasPrefix(name, "step-") || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("run %s: malformed %s file %q", runDir, LatestFile, name)
	}
	return filepath.Join(runDir, CheckpointDir, name), nil
}

// HasCheckpoint reports whether a run directory holds a checkpoint; a latest
// file that cannot be read or parsed is an error, not "none" (a new run must
// not overwrite what it cannot read), and so are step directories without a
// latest file.
func HasCheckpoint(runDir string) (bool, error) {
	_, err := Latest(runDir)
	if !errors.Is(err, fs.ErrNotExist) {
		return err == nil, err
	}
	root := filepath.Join(runDir, CheckpointDir)
	entries, rerr := os.ReadDir(root)
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return false, rerr
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "step-") {
			return false, fmt.Errorf("run %s holds checkpoint %s but no %s file (a run killed before writing it): resume it (a resume adopts the newest complete checkpoint), or choose another directory", runDir, e.Name(), LatestFile)
		}
	}
	return false, nil
}

// start prepares runDir for a loop that continues from step done, under the
// directory's lock: the checkpoint of step done must be there (or, at step
// 0, none at all) and becomes the latest; leftovers of interrupted writes
// go, and so do checkpoints after done that are incomplete or, with rewind
// (a resume from an earlier checkpoint), all of them. A complete later
// checkpoint without rewind means another process advanced the run since
// it was loaded: an error.
func (c *Checkpoint) start(runDir string, done int, rewind bool) (note string, err error) {
	root := filepath.Join(runDir, CheckpointDir)
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-step-") {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
	steps, err := Steps(runDir)
	if err != nil {
		return "", err
	}
	mine := filepath.Join(root, StepName(done))
	have := Complete(mine, c.Names()...) == nil
	var later []int
	for _, s := range steps {
		if s > done {
			later = append(later, s)
		}
	}
	if !have {
		if done == 0 && len(steps) == 0 {
			return "", nil // a new run
		}
		if done == 0 {
			return "", fmt.Errorf("run %s holds checkpoint %s, written since this run began: another process writes this directory", runDir, StepName(steps[len(steps)-1]))
		}
		return "", fmt.Errorf("run %s: checkpoint %s, which this run continues from, is gone or incomplete: another process writes this directory", runDir, StepName(done))
	}
	var dropped []string
	for _, s := range later {
		dir := filepath.Join(root, StepName(s))
		if !rewind && Complete(dir, c.Names()...) == nil {
			return "", fmt.Errorf("run %s holds checkpoint %s, after %s which this run continues from: another process advanced the run since it was loaded; resume again, or continue from %s with -resume -from %d", runDir, StepName(s), StepName(done), StepName(done), done)
		}
		dropped = append(dropped, StepName(s))
	}
	// The later checkpoints go first: a crash in between leaves latest
	// naming a missing checkpoint, and a resume then adopts this one.
	for _, name := range dropped {
		if err := os.RemoveAll(filepath.Join(root, name)); err != nil {
			return "", err
		}
	}
	if latest, err := Latest(runDir); err != nil || latest != mine {
		if err := writeLatest(root, StepName(done)); err != nil {
			return "", err
		}
	}
	if len(dropped) > 0 {
		return fmt.Sprintf("removed checkpoints %s, after %s which this run continues from", strings.Join(dropped, ", "), StepName(done)), nil
	}
	return "", nil
}

// ParamsPart is a parameter store saved as an .npz file of float32 arrays
// keyed by parameter name, in declaration order. Loading requires every
// parameter with its exact shape and no other key.
func ParamsPart(file string, p *nn.Params) Part {
	return Part{
		Name: file,
		Save: func(dir string) error { return SaveParams(filepath.Join(dir, file), p) },
		Load: func(dir string) error { return LoadParams(filepath.Join(dir, file), p) },
	}
}

// SaveParams writes a parameter store to an .npz file atomically
// (weightio.SaveParams).
func SaveParams(path string, p *nn.Params) error { return weightio.SaveParams(path, p) }

// LoadParams replaces a store's values with an .npz file's; nothing changes
// unless every array checks out, and the error names the file and the key
// (weightio.LoadParams).
func LoadParams(path string, p *nn.Params) error { return weightio.LoadParams(path, p) }

// AdamPart is an optimiser's moments for a store's parameters as an .npz
// file: "m/<name>" and "v/<name>" for every parameter updated so far (its
// step count belongs in the state part, which a checkpoint loads first).
// Loading checks every array's shape, and that every parameter has its
// moments once the optimiser has taken a step (none before).
func AdamPart(file string, a *nn.Adam, p *nn.Params) Part {
	return Part{
		Name: file,
		Save: func(dir string) error {
			var order []string
			arrays := map[string]npzio.Array{}
			for _, n := range p.Names() {
				if m, ok := a.M[n]; ok {
					shape := p.Get(n).Shape().Clone()
					arrays["m/"+n] = npzio.Float32(m, shape...)
					arrays["v/"+n] = npzio.Float32(a.V[n], shape...)
					order = append(order, "m/"+n, "v/"+n)
				}
			}
			return npzio.Write(filepath.Join(dir, file), order, arrays)
		},
		Load: func(dir string) error {
			path := filepath.Join(dir, file)
			arrays, err := npzio.Read(path)
			if err != nil {
				return err
			}
			m, v := map[string][]float32{}, map[string][]float32{}
			for k, arr := range arrays {
				kind, name, ok := strings.Cut(k, "/")
				t := p.Get(name)
				if !ok || t == nil || (kind != "m" && kind != "v") {
					return fmt.Errorf("%s: unexpected array %q", path, k)
				}
				if arr.F32 == nil || !slices.Equal(arr.Shape, []int(t.Shape())) || len(arr.F32) != t.Shape().TotalSize() {
					return fmt.Errorf("%s: array %q is %s %v, want float32 %v", path, k, arr.Dtype(), arr.Shape, []int(t.Shape()))
				}
				if kind == "m" {
					m[name] = arr.F32
				} else {
					v[name] = arr.F32
				}
			}
			for n := range m {
				if v[n] == nil {
					return fmt.Errorf("%s: no second moment for %q", path, n)
				}
			}
			for n := range v {
				if m[n] == nil {
					return fmt.Errorf("%s: no first moment for %q", path, n)
				}
			}
			// Every trainer here updates all its parameters at every
			// step: after the first, each has its moments.
			if a.Steps > 0 {
				for _, n := range p.Names() {
					if m[n] == nil {
						return fmt.Errorf("%s: no moments for parameter %q after %d optimiser steps (the file holds %d of %d parameters' moments)", path, n, a.Steps, len(m), p.Len())
					}
				}
			} else if len(m) > 0 {
				return fmt.Errorf("%s: moments for %d parameters before any optimiser step", path, len(m))
			}
			a.M, a.V = m, v
			return nil
		},
	}
}

// JSONPart is a small JSON file: Save marshals get(), Load unmarshals into
// set's argument.
func JSONPart(file string, get func() any, set func(data []byte) error) Part {
	return Part{
		Name: file,
		Save: func(dir string) error {
			b, err := json.MarshalIndent(get(), "", "  ")
			if err != nil {
				return err
			}
			return fsutil.WriteAtomic(filepath.Join(dir, file), func(w io.Writer) error {
				_, err := w.Write(b)
				return err
			})
		},
		Load: func(dir string) error {
			path := filepath.Join(dir, file)
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := set(b); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			return nil
		},
	}
}
