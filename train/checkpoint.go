package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
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
// that parts may depend on the settings it restores).
func (c *Checkpoint) Load(dir string) error {
	if err := c.State.Load(dir); err != nil {
		return err
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
			return false, fmt.Errorf("run %s holds checkpoint %s but no %s file: remove %s or choose another directory", runDir, e.Name(), LatestFile, root)
		}
	}
	return false, nil
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

// SaveParams writes a parameter store to an .npz file atomically.
func SaveParams(path string, p *nn.Params) error {
	names := p.Names()
	arrays := make(map[string]npzio.Array, len(names))
	for _, n := range names {
		arrays[n] = npzio.Float32(p.Data(n), p.Get(n).Shape().Clone()...)
	}
	return npzio.Write(path, names, arrays)
}

// LoadParams replaces a store's values with an .npz file's; nothing changes
// unless every array checks out, and the error names the file and the key.
func LoadParams(path string, p *nn.Params) error {
	arrays, err := npzio.Read(path)
	if err != nil {
		return err
	}
	ts := make(map[string]*tensor.Dense, len(arrays))
	for k, a := range arrays {
		if a.F32 == nil {
			return fmt.Errorf("%s: array %q is %s, want float32", path, k, a.Dtype())
		}
		ts[k] = tensor.New(tensor.WithShape(a.Shape...), tensor.WithBacking(a.F32))
	}
	if err := p.Set(ts); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// AdamPart is an optimiser's moments for a store's parameters as an .npz
// file: "m/<name>" and "v/<name>" for every parameter updated so far (its
// step count belongs in the state part).
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
				if !ok || t == nil || arr.F32 == nil || len(arr.F32) != t.Shape().TotalSize() || (kind != "m" && kind != "v") {
					return fmt.Errorf("%s: unexpected array %q", path, k)
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
