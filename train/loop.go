package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// ErrInterrupted is returned by Loop.Run when its context is cancelled; the
// run has been checkpointed and can be resumed.
var ErrInterrupted = errors.New("training interrupted; checkpoint written")

// MetricsFile is the name of a run's metrics log: one JSON object per line,
// each with a "step" field.
const MetricsFile = "metrics.jsonl"

// Progress is what a loop reports after each step.
type Progress struct {
	Done, Total int
	Status      string // a short description of the last step ("loss 0.0312")
	Elapsed     time.Duration
}

// Periodic is an action taken after every Every-th step (sample grids, a
// validation pass).
type Periodic struct {
	Every int
	Do    func(step int) error
}

// Loop runs the steps of a training run from Done to Steps.
type Loop struct {
	// Dir is the run directory for checkpoints and metrics.jsonl; empty:
	// nothing is written.
	Dir string
	// Steps is the step count to train to; Done the steps done so far.
	Steps, Done int

	// Step performs step number step (0-based: Done before the call).
	Step func(step int) error

	// Checkpoint, when set and Dir is not empty, is saved every
	// CheckpointEvery steps, at the end and on interruption.
	Checkpoint      *Checkpoint
	CheckpointEvery int

	// Log, when set and Dir is not empty, returns the metrics line written
	// after every LogEvery-th step and the last; it must marshal to a JSON
	// object with a "step" field. stepsPerSec is the rate since the last
	// line.
	Log      func(step int, stepsPerSec float64) any
	LogEvery int

	// Periodic actions, after logging and before checkpointing.
	Periodic []Periodic

	// Progress, when set, is called after every step; Status, when set,
	// gives its Status field.
	Progress func(Progress)
	Status   func() string

	// Rewind says the run continues from an earlier checkpoint than its
	// latest (a resume with -from): the later checkpoints are removed when
	// it starts.
	Rewind bool
	// Note, when set, receives what Run did to the run directory before
	// training (checkpoints removed by Rewind or left incomplete by a
	// crash).
	Note func(string)
}

// Run trains until Steps. When ctx is cancelled it checkpoints and returns
// ErrInterrupted. An error from Step stops the run and leaves the last
// checkpoint as it was.
//
// Run holds the run directory's lock (fsutil.Lock) while it runs, unless
// the calling process holds it already, so that a second writer is refused
// before it writes anything. It then checks the directory against Done:
// the checkpoint of step Done becomes the latest (a run resumed from the
// newest complete checkpoint because its latest file was lost), and a
// checkpoint written since the run was loaded is an error.
func (l *Loop) Run(ctx context.Context) (err error) {
	if l.Steps < l.Done {
		return fmt.Errorf("the run has done %d steps, more than the %d asked for: nothing to train", l.Done, l.Steps)
	}
	var mf *os.File
	if l.Dir != "" {
		if !fsutil.Held(l.Dir) {
			unlock, err := fsutil.Lock(l.Dir)
			if err != nil {
				return err
			}
			defer unlock()
		}
		if l.Checkpoint != nil {
			note, err := l.Checkpoint.start(l.Dir, l.Done, l.Rewind)
			if err != nil {
				return err
			}
			if note != "" && l.Note != nil {
				l.Note(note)
			}
		}
		if l.Log != nil {
			path := filepath.Join(l.Dir, MetricsFile)
			if err := TrimMetrics(path, l.Done); err != nil {
				return err
			}
			if mf, err = os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
				return err
			}
			defer func() {
				if cerr := mf.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("%s: %w", path, cerr)
				}
			}()
		}
	}
	checkpoint := func() error {
		if l.Dir == "" || l.Checkpoint == nil {
			return nil
		}
		return l.Checkpoint.Save(l.Dir, l.Done)
	}
	start := time.Now()
	last, lastStep := start, l.Done
	for l.Done < l.Steps {
		select {
		case <-ctx.Done():
			if err := checkpoint(); err != nil {
				return fmt.Errorf("interrupted, and the checkpoint failed: %w", err)
			}
			return ErrInterrupted
		default:
		}
		if err := l.Step(l.Done); err != nil {
			return err
		}
		l.Done++
		if l.Progress != nil {
			p := Progress{Done: l.Done, Total: l.Steps, Elapsed: time.Since(start)}
			if l.Status != nil {
				p.Status = l.Status()
			}
			l.Progress(p)
		}
		if mf != nil && (l.LogEvery > 0 && l.Done%l.LogEvery == 0 || l.Done == l.Steps) {
			now := time.Now()
			line, err := json.Marshal(l.Log(l.Done, float64(l.Done-lastStep)/now.Sub(last).Seconds()))
			if err != nil {
				return fmt.Errorf("metrics at step %d: %w", l.Done, err)
			}
			last, lastStep = now, l.Done
			if _, err := mf.Write(append(line, '\n')); err != nil {
				return err
			}
		}
		for _, p := range l.Periodic {
			if p.Every > 0 && l.Done%p.Every == 0 {
				if err := p.Do(l.Done); err != nil {
					return err
				}
			}
		}
		if l.CheckpointEvery > 0 && l.Done%l.CheckpointEvery == 0 || l.Done == l.Steps {
			if err := checkpoint(); err != nil {
				return fmt.Errorf("checkpoint at step %d: %w", l.Done, err)
			}
		}
	}
	return nil
}

// TrimMetrics drops the lines of a metrics file (if there is one) that come
// after step: the steps a resumed run repeats, after a crash or a NaN stop
// since its last checkpoint, or a whole earlier run when a new one starts at
// step 0. A line cut short by a crash goes too. The file is rewritten
// atomically, and only when something is dropped.
func TrimMetrics(path string, step int) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var keep []byte
	for line := range bytes.Lines(b) {
		var m struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(line, &m) == nil && m.Step != nil && *m.Step <= step {
			keep = append(keep, bytes.TrimSuffix(line, []byte("\n"))...)
			keep = append(keep, '\n') // a whole line that lost its newline
		}
	}
	if len(keep) == len(b) {
		return nil
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(keep)
		return err
	})
}
