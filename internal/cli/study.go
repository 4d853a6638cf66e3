package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/unet"
)

// StudyFlags are the flags every study command takes: where the study
// goes, which shard of it to run, merging, the quick or the full study,
// samples per cell, sampling batch, seed and -quiet.
type StudyFlags struct {
	Out, Shard string
	Merging    bool
	Full       bool
	N, Batch   int
	Seed       uint64
	Quiet      bool
	shard      study.Shard
}

// Register adds the flags to c's flag set; out is -out's default, full
// describes -full, batch is -batch's default.
func (f *StudyFlags) Register(c *Command, out, full string, batch int) {
	fs := c.Flags
	fs.StringVar(&f.Out, "out", out, "study directory")
	fs.BoolVar(&f.Full, "full", false, full)
	fs.StringVar(&f.Shard, "shard", "0/1", "run only shard i of n (i/n): every n-th cell from the i-th")
	fs.BoolVar(&f.Merging, "merge", false, "merge the study directories given as arguments into -out, and write its report")
	fs.IntVar(&f.N, "n", 0, "samples per cell (default: the study's)")
	fs.IntVar(&f.Batch, "batch", batch, "sampling batch (results do not depend on it)")
	fs.Uint64Var(&f.Seed, "seed", 0, "noise seed")
	fs.BoolVar(&f.Quiet, "quiet", false, "no progress display")
}

// Check parses -shard and checks -n and -batch (usage errors).
func (f *StudyFlags) Check() error {
	sh, err := study.ParseShard(f.Shard)
	if err != nil {
		return err
	}
	f.shard = sh
	if f.Batch < 1 {
		return fmt.Errorf("-batch %d must be positive", f.Batch)
	}
	if f.N < 0 || f.N == 1 || f.N > 1_000_000 {
		return fmt.Errorf("-n %d: want 2 to 1000000 samples per cell", f.N)
	}
	return nil
}

// CheckMemory reports, as an error, a study whose cells' samples (n of a
// model's samples, their twins and their classifier features) and sampling
// do not fit in the memory left.
func (f *StudyFlags) CheckMemory(mc unet.Config, n int) error {
	chw, err := mc.SampleShape()
	if err != nil {
		return err
	}
	need, err := diffusion.SampleMemory(mc, n, f.Batch, chw, 1)
	if err != nil {
		return err
	}
	need += float64(n) * (4*float64(chw[0]*chw[1]*chw[2]) + 2*4*metrics.FeatureDim)
	return sysmem.Check(need, fmt.Sprintf("-n %d with -batch %d (samples per cell, of %d×%d×%d)", n, f.Batch, chw[0], chw[1], chw[2]))
}

// Run runs the cells of the study's shard in -out, with progress unless
// -quiet, and returns every record of the directory. ok is false when the
// command should stop with code (interrupted: 130, with how to continue;
// failed: 1).
func (f *StudyFlags) Run(ctx context.Context, c *Command, st study.Study, run func(study.Cell) (any, error)) (recs []study.Record, code int, ok bool) {
	var prog *Progress
	o := study.Options{Dir: f.Out, Shard: f.shard, Progress: func(done, total int, key string) {
		if f.Quiet {
			return
		}
		if prog == nil {
			prog = NewProgress(c.Stderr, total, "cells").From(done)
		}
		prog.Set(done, key)
	}}
	recs, err := study.Run(ctx, st, o, run)
	prog.Finish()
	if errors.Is(err, study.ErrInterrupted) {
		return recs, c.Interrupted("%d cells are saved in %s. Run the same command again to continue.", len(recs), f.Out), false
	}
	if err != nil {
		return recs, c.Fail(err), false
	}
	return recs, 0, true
}

// Merge merges the study directories given as arguments into -out: decode
// reads the first one's study (its cells) from its manifest's config, same
// compares two results of one cell (nil: byte for byte), report writes the
// merged study's report. It returns the exit code.
func (f *StudyFlags) Merge(c *Command, name string, decode func(config json.RawMessage) (study.Study, error),
	same func(a, b json.RawMessage) bool, report func(st study.Study, recs []study.Record) error) int {
	dirs := c.Flags.Args()
	if len(dirs) == 0 {
		return c.Usage("-merge takes the study directories to merge as arguments")
	}
	man, err := study.ReadManifest(dirs[0])
	if err != nil {
		return c.Fail(err)
	}
	if man.Study != name {
		return c.Fail(fmt.Errorf("%s holds a %q study, not a %s study", dirs[0], man.Study, name))
	}
	st, err := decode(man.Config)
	if err != nil {
		return c.Fail(fmt.Errorf("%s: %w", filepath.Join(dirs[0], study.ManifestFile), err))
	}
	var keys []string
	for _, cell := range st.Cells {
		keys = append(keys, cell.Key)
	}
	_, recs, err := study.Merge(f.Out, dirs, keys, same)
	if err != nil {
		return c.Fail(err)
	}
	if err := report(st, recs); err != nil {
		return c.Fail(err)
	}
	c.Printf("merged %d directories: %d of %d cells in %s; summary in %s\n", len(dirs), len(recs), len(keys),
		filepath.Join(f.Out, study.ResultsFile), filepath.Join(f.Out, "summary.md"))
	return 0
}

// Study is what a study command defines; StudyFlags.Main runs it.
type Study struct {
	// Name is the study's name in study.json.
	Name string
	// Decode reads a study (its config and cells) from study.json's
	// config, for -merge.
	Decode func(config json.RawMessage) (study.Study, error)
	// Same compares two results of one cell for -merge (nil: byte for
	// byte).
	Same func(a, b json.RawMessage) bool
	// Report writes the report of a study directory's records.
	Report func(dir string, st study.Study, recs []study.Record) error
	// Plan makes the study of a model and its schedule (loaded from dir)
	// as the flags ask for it. An error wrapped by UsageError is a usage
	// error.
	Plan func(m *unet.Model, dir string, noise *diffusion.Schedule) (Plan, error)
}

// Plan is a study ready to run.
type Plan struct {
	Study study.Study
	// N is the samples per cell (for the memory check).
	N int
	// Run runs a cell; Before, when set, runs first on the cells pending
	// in this shard (the Clockwork study distils their adaptors).
	Run    func(study.Cell) (any, error)
	Before func(pending []study.Cell) error
	// Describe is the line printed before the cells run.
	Describe string
}

// usageError marks an error as a usage error (exit 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// UsageError marks err as a usage error: a command stops on it with exit 2.
func UsageError(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// Main runs a study command after its flags are parsed: -merge, or the
// study of the model in model (the shipped teacher when empty) in -out's
// shard, with its report at the end. It returns the exit code.
func (f *StudyFlags) Main(ctx context.Context, c *Command, model string, s Study) int {
	if err := CheckRunDir(f.Out, s.Name); err != nil {
		return c.Fail(err)
	}
	if f.Merging {
		return f.Merge(c, s.Name, s.Decode, s.Same, func(st study.Study, recs []study.Record) error { return s.Report(f.Out, st, recs) })
	}
	if c.Flags.NArg() > 0 {
		return c.Usage("unexpected argument %q", c.Flags.Arg(0))
	}
	if err := f.Check(); err != nil {
		return c.Usage("%v", err)
	}
	dir, err := models.Resolve(model)
	if err != nil {
		return c.Fail(err)
	}
	m, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		return c.Fail(err)
	}
	p, err := s.Plan(m, dir, noise)
	if err == nil {
		err = UsageError(f.CheckMemory(m.Config, p.N))
	}
	var u usageError
	if errors.As(err, &u) {
		return c.Usage("%v", u.error)
	} else if err != nil {
		return c.Fail(err)
	}
	if _, err := study.Pending(p.Study, f.Out, f.shard); err != nil { // another study's directory: refused before anything is written
		return c.Fail(err)
	}
	defer c.Provenance(f.Out)()
	c.Printf("%s: %d cells of %d samples, shard %s, into %s\n", p.Describe, len(p.Study.Cells), p.N, f.shard, f.Out)
	start := time.Now()
	if p.Before != nil {
		pending, err := study.Pending(p.Study, f.Out, f.shard)
		if err == nil {
			err = p.Before(pending)
		}
		if errors.Is(err, study.ErrInterrupted) {
			return c.Interrupted("what was done is saved. Run the same command again to continue.")
		} else if err != nil {
			return c.Fail(err)
		}
	}
	recs, code, ok := f.Run(ctx, c, p.Study, p.Run)
	if !ok {
		return code
	}
	if err := s.Report(f.Out, p.Study, recs); err != nil {
		return c.Fail(err)
	}
	c.Printf("done in %s: %d of %d cells in %s; summary in %s\n", time.Since(start).Round(time.Second), len(recs), len(p.Study.Cells),
		filepath.Join(f.Out, study.ResultsFile), filepath.Join(f.Out, "summary.md"))
	if f.shard.Count > 1 {
		c.Printf("this is shard %s: merge the shards with %s -merge -out DIR SHARD_DIRS...\n", f.shard, c.Name)
	}
	return 0
}
