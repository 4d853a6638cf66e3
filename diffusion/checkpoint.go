package diffusion

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
	"github.com/clockwork-go/clockwork/unet"
)

// A checkpoint is a directory checkpoints/step-NNNNNNNN of a run directory
// holding everything a resumed run needs: model (config.json, model.npz),
// ema.npz, adam.npz (first and second moments) and state.json (step, data
// order, random state, training config). It is written under a temporary
// name, every file synced, and renamed into place; the file
// checkpoints/latest then names it (itself replaced atomically). A write
// interrupted at any point leaves the previous checkpoint as latest.
const (
	checkpointDir = "checkpoints"
	latestFile    = "latest"
	keepCheckpts  = 2
)

// trainState is the part of a checkpoint that is not arrays.
type trainState struct {
	Step       int         `json:"step"`
	Epoch      int         `json:"epoch"`
	Pos        int         `json:"pos"`
	RNG        []byte      `json:"rng"`
	AdamSteps  int         `json:"adam_steps"`
	EMAUpdates int         `json:"ema_updates"`
	Config     TrainConfig `json:"config"`
}

// checkpointFail, when set by a test, makes checkpoint writing fail after the
// named file, as a process killed midway would leave it.
var checkpointFail string

func paramsArrays(p *nn.Params, data func(name string) []float32) ([]string, map[string]npzio.Array) {
	names := p.Names()
	arrays := make(map[string]npzio.Array, len(names))
	for _, n := range names {
		arrays[n] = npzio.Float32(data(n), p.Get(n).Shape().Clone()...)
	}
	return names, arrays
}

// saveCheckpoint writes the trainer's state as a new checkpoint.
func (tr *Trainer) saveCheckpoint() error {
	root := filepath.Join(tr.Dir, checkpointDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	name := fmt.Sprintf("step-%08d", tr.Step)
	final := filepath.Join(root, name)
	if latest, err := LatestCheckpoint(tr.Dir); err == nil && latest == final {
		// The latest checkpoint is this step's (an interrupt right after a
		// scheduled checkpoint, or before the first step of a resumed
		// run): its arrays are this state's, as no step ran since. Only
		// the settings may differ (a resume with a new step count), so
		// state.json is rewritten, atomically; replacing the directory
		// would leave latest dangling for a moment.
		return tr.writeState(final)
	}
	tmp := filepath.Join(root, ".tmp-"+name)
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	fail := func(after string) error {
		if checkpointFail == after {
			return fmt.Errorf("checkpoint: simulated failure after %s", after)
		}
		return nil
	}
	if err := tr.Model.Save(filepath.Join(tmp, "model")); err != nil {
		return err
	}
	if err := fail("model"); err != nil {
		return err
	}
	names, ema := paramsArrays(tr.EMA.Shadow, tr.EMA.Shadow.Data)
	if err := npzio.Write(filepath.Join(tmp, "ema.npz"), names, ema); err != nil {
		return err
	}
	if err := fail("ema"); err != nil {
		return err
	}
	var order []string
	adam := map[string]npzio.Array{}
	for _, n := range tr.Model.Params.Names() {
		if m, ok := tr.Opt.M[n]; ok {
			shape := tr.Model.Params.Get(n).Shape().Clone()
			adam["m/"+n] = npzio.Float32(m, shape...)
			adam["v/"+n] = npzio.Float32(tr.Opt.V[n], shape...)
			order = append(order, "m/"+n, "v/"+n)
		}
	}
	if err := npzio.Write(filepath.Join(tmp, "adam.npz"), order, adam); err != nil {
		return err
	}
	if err := tr.writeState(tmp); err != nil {
		return err
	}
	if err := fail("state"); err != nil {
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
	// Keep the newest few checkpoints.
	entries, _ := os.ReadDir(root)
	var steps []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "step-") {
			steps = append(steps, e.Name())
		}
	}
	sort.Strings(steps)
	for i := 0; i < len(steps)-keepCheckpts; i++ {
		if steps[i] != name { // never the one latest names
			os.RemoveAll(filepath.Join(root, steps[i]))
		}
	}
	return nil
}

// writeState writes state.json (step, data order, random state, optimiser
// counters, settings) into the checkpoint directory dir, atomically.
func (tr *Trainer) writeState(dir string) error {
	rng, err := tr.rngSrc.MarshalBinary()
	if err != nil {
		return err
	}
	st := trainState{Step: tr.Step, Epoch: tr.Loader.Epoch, Pos: tr.Loader.Pos, RNG: rng,
		AdamSteps: tr.Opt.Steps, EMAUpdates: tr.EMA.Updates, Config: tr.Config}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(filepath.Join(dir, "state.json"), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeLatest makes the checkpoint name the latest one of a run's
// checkpoint directory root, atomically.
func writeLatest(root, name string) error {
	return fsutil.WriteAtomic(filepath.Join(root, latestFile), func(w io.Writer) error {
		_, err := io.WriteString(w, name+"\n")
		return err
	})
}

// LatestCheckpoint returns the directory of a run's latest checkpoint, or
// an error wrapping fs.ErrNotExist when it has none.
func LatestCheckpoint(runDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(runDir, checkpointDir, latestFile))
	if err != nil {
		return "", fmt.Errorf("run %s has no checkpoint: %w", runDir, err)
	}
	name := strings.TrimSpace(string(b))
	if !strings.HasPrefix(name, "step-") || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("run %s: malformed %s file %q", runDir, latestFile, name)
	}
	return filepath.Join(runDir, checkpointDir, name), nil
}

// loadCheckpoint restores a trainer's state from a checkpoint directory.
func (tr *Trainer) loadCheckpoint(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return err
	}
	var st trainState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "state.json"), err)
	}
	if err := tr.Model.LoadWeights(filepath.Join(dir, "model", unet.WeightsFile)); err != nil {
		return err
	}
	ema, err := npzio.Read(filepath.Join(dir, "ema.npz"))
	if err != nil {
		return err
	}
	ts := map[string]*tensor.Dense{}
	for k, a := range ema {
		if a.F32 == nil {
			return fmt.Errorf("%s: ema %q is %s, want float32", dir, k, a.Dtype())
		}
		ts[k] = tensor.New(tensor.WithShape(a.Shape...), tensor.WithBacking(a.F32))
	}
	if err := tr.EMA.Shadow.Set(ts); err != nil {
		return fmt.Errorf("%s: ema.npz: %w", dir, err)
	}
	adam, err := npzio.Read(filepath.Join(dir, "adam.npz"))
	if err != nil {
		return err
	}
	tr.Opt.M, tr.Opt.V = map[string][]float32{}, map[string][]float32{}
	for k, a := range adam {
		kind, name, ok := strings.Cut(k, "/")
		p := tr.Model.Params.Get(name)
		if !ok || p == nil || a.F32 == nil || len(a.F32) != p.Shape().TotalSize() || (kind != "m" && kind != "v") {
			return fmt.Errorf("%s: adam.npz: unexpected array %q", dir, k)
		}
		if kind == "m" {
			tr.Opt.M[name] = a.F32
		} else {
			tr.Opt.V[name] = a.F32
		}
	}
	for n := range tr.Opt.M {
		if tr.Opt.V[n] == nil {
			return fmt.Errorf("%s: adam.npz: no second moment for %q", dir, n)
		}
	}
	if err := tr.rngSrc.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("%s: random state: %w", dir, err)
	}
	tr.Step, tr.Loader.Epoch, tr.Loader.Pos = st.Step, st.Epoch, st.Pos
	tr.Opt.Steps, tr.EMA.Updates = st.AdamSteps, st.EMAUpdates
	return nil
}

// readCheckpointConfig returns the training config a checkpoint was saved
// with.
func readCheckpointConfig(dir string) (TrainConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return TrainConfig{}, err
	}
	var st trainState
	if err := json.Unmarshal(b, &st); err != nil {
		return TrainConfig{}, fmt.Errorf("%s: %w", filepath.Join(dir, "state.json"), err)
	}
	return st.Config, nil
}

// hasCheckpoint reports whether a run directory holds a checkpoint; a
// latest file that cannot be read or parsed is an error, not "none" (a new
// run must not overwrite what it cannot read).
func hasCheckpoint(runDir string) (bool, error) {
	_, err := LatestCheckpoint(runDir)
	if !errors.Is(err, fs.ErrNotExist) {
		return err == nil, err
	}
	// No latest file: step directories left behind (a crash before the
	// first latest was written, or a latest removed by hand) would mix
	// with the new run's, so they are an error too.
	root := filepath.Join(runDir, checkpointDir)
	entries, rerr := os.ReadDir(root)
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return false, rerr
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "step-") {
			return false, fmt.Errorf("run %s holds checkpoint %s but no %s file: remove %s or choose another directory", runDir, e.Name(), latestFile, root)
		}
	}
	return false, nil
}
