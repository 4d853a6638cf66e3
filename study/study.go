package study

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// File names in a study directory.
const (
	ManifestFile = "study.json"
	ResultsFile  = "results.jsonl"
)

// Cell is one independent unit of a study.
type Cell struct {
	// Key names the cell, unique within its study and stable from run to
	// run ("up_blocks.0/k5/a0.3/dpmpp2m").
	Key string
	// Spec is what the cell runs; it is recorded with the result.
	Spec any
}

// Study is a named list of cells and the settings that define them.
type Study struct {
	Name   string
	Config any
	Cells  []Cell
}

// Manifest is the content of study.json.
type Manifest struct {
	Study  string          `json:"study"`
	Config json.RawMessage `json:"config"`
	Hash   string          `json:"config_hash"`
	Cells  int             `json:"cells"`
}

// Record is one line of results.jsonl: a finished cell.
type Record struct {
	Key string `json:"key"`
	// Study is the config hash of the study that made the record
	// (Manifest.Hash): a record is read only in a directory whose
	// study.json has that hash, so results copied or appended from a study
	// of other settings are refused, never mixed in.
	Study   string          `json:"study_hash"`
	Cell    json.RawMessage `json:"cell"`
	Result  json.RawMessage `json:"result"`
	Seconds float64         `json:"seconds"`
	Shard   string          `json:"shard,omitempty"`
}

// Shard selects every Count-th cell starting at Index.
type Shard struct {
	Index, Count int
}

// All is the whole study.
var All = Shard{0, 1}

// String formats the shard as i/n.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Has reports whether cell i belongs to the shard.
func (s Shard) Has(i int) bool { return i%s.Count == s.Index }

// ParseShard reads "i/n" with 0 ≤ i < n.
func ParseShard(v string) (Shard, error) {
	a, b, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 ≤ i < n (e.g. 0/4)", v)
	}
	return Shard{i, n}, nil
}

// manifest returns the study's manifest.
func (s Study) manifest() (Manifest, error) {
	cfg, err := json.Marshal(s.Config)
	if err != nil {
		return Manifest{}, fmt.Errorf("study %s config: %w", s.Name, err)
	}
	h := sha256.Sum256(append([]byte(s.Name+"\n"), cfg...))
	return Manifest{Study: s.Name, Config: cfg, Hash: hex.EncodeToString(h[:8]), Cells: len(s.Cells)}, nil
}

// Validate reports duplicate or empty keys.
func (s Study) Validate() error {
	seen := map[string]bool{}
	for _, c := range s.Cells {
		if c.Key == "" || strings.ContainsAny(c.Key, "\n") {
			return fmt.Errorf("study %s: bad cell key %q", s.Name, c.Key)
		}
		if seen[c.Key] {
			return fmt.Errorf("study %s: cell %q twice", s.Name, c.Key)
		}
		seen[c.Key] = true
	}
	return nil
}

// Options control a run of a study.
type Options struct {
	Dir   string
	Shard Shard // zero value: the whole study
	// Progress, when set, is called before the first cell to run and after
	// each, with the cells done and to do in this shard and the key of the
	// cell just finished.
	Progress func(done, total int, key string)
}

// ErrInterrupted is returned by Run when its context is cancelled between
// cells; every finished cell is saved.
var ErrInterrupted = errors.New("study interrupted; finished cells are saved")

// Run runs the cells of the shard that results.jsonl does not hold yet,
// appending each result as it finishes, and returns every record of the
// directory (old and new). run gets the cell and returns its result, which
// must marshal to JSON.
func Run(ctx context.Context, s Study, o Options, run func(Cell) (any, error)) ([]Record, error) {
	if o.Shard.Count == 0 {
		o.Shard = All
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	want, err := s.manifest()
	if err != nil {
		return nil, err
	}
	unlock, err := fsutil.Lock(o.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := ensureManifest(o.Dir, want); err != nil {
		return nil, err
	}
	records, err := loadRecords(o.Dir, want.Hash, true)
	if err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, r := range records {
		done[r.Key] = true
	}
	var todo []Cell
	total := 0
	for i, c := range s.Cells {
		if !o.Shard.Has(i) {
			continue
		}
		total++
		if !done[c.Key] {
			todo = append(todo, c)
		}
	}
	f, err := os.OpenFile(filepath.Join(o.Dir, ResultsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	finished := total - len(todo)
	if o.Progress != nil {
		o.Progress(finished, total, "")
	}
	shard := ""
	if o.Shard.Count > 1 {
		shard = o.Shard.String()
	}
	for _, c := range todo {
		select {
		case <-ctx.Done():
			return records, ErrInterrupted
		default:
		}
		start := time.Now()
		res, err := run(c)
		if err != nil {
			return records, fmt.Errorf("cell %s: %w", c.Key, err)
		}
		rec, err := newRecord(c, res, want.Hash, time.Since(start).Seconds(), shard)
		if err != nil {
			return records, err
		}
		line, err := json.Marshal(rec)
		if err != nil {
			return records, err
		}
		// One write of a whole line to an append-only file, then a sync:
		// a crash leaves at most a cut-short last line, which the next run
		// drops.
		if _, err := f.Write(append(line, '\n')); err != nil {
			return records, fmt.Errorf("%s: %w", f.Name(), err)
		}
		if err := f.Sync(); err != nil {
			return records, fmt.Errorf("%s: %w", f.Name(), err)
		}
		records = append(records, rec)
		finished++
		if o.Progress != nil {
			o.Progress(finished, total, c.Key)
		}
	}
	return records, nil
}

func newRecord(c Cell, res any, hash string, secs float64, shard string) (Record, error) {
	cell, err := json.Marshal(c.Spec)
	if err != nil {
		return Record{}, fmt.Errorf("cell %s: %w", c.Key, err)
	}
	r, err := json.Marshal(res)
	if err != nil {
		return Record{}, fmt.Errorf("cell %s result: %w", c.Key, err)
	}
	return Record{Key: c.Key, Study: hash, Cell: cell, Result: r, Seconds: secs, Shard: shard}, nil
}

// ensureManifest writes study.json into a new directory, or checks that an
// existing one is of the same study and settings.
func ensureManifest(dir string, want Manifest) error {
	have, err := ReadManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, ResultsFile)); err == nil {
			return fmt.Errorf("%s holds %s but no %s: it is not a study directory of this toolkit's; choose another directory", dir, ResultsFile, ManifestFile)
		}
		b, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			return err
		}
		return fsutil.WriteAtomic(filepath.Join(dir, ManifestFile), func(w io.Writer) error {
			_, err := w.Write(append(b, '\n'))
			return err
		})
	}
	if err != nil {
		return err
	}
	return sameStudy(dir, have, want)
}

func sameStudy(dir string, have, want Manifest) error {
	if have.Study != want.Study {
		return fmt.Errorf("%s holds a %q study, not %q: choose another directory", dir, have.Study, want.Study)
	}
	if have.Hash != want.Hash {
		return fmt.Errorf("%s holds a %s study with other settings (%s there, %s here): choose another directory, or run with the settings of its %s", dir, have.Study, compact(have.Config), compact(want.Config), ManifestFile)
	}
	return nil
}

func compact(b json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	s := buf.String()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// ReadManifest reads a study directory's study.json.
func ReadManifest(dir string) (Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Study == "" || m.Hash == "" {
		if err == nil {
			err = errors.New("no study name or config hash")
		}
		return Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Load returns a study directory's manifest and records.
func Load(dir string) (Manifest, []Record, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return Manifest{}, nil, err
	}
	r, err := loadRecords(dir, m.Hash, false)
	return m, r, err
}

// loadRecords reads results.jsonl. Every line ended by a newline must be a
// record of the study whose config hash is hash; an unterminated last line
// is what a crash mid-write leaves, and is dropped (and, when repair is
// set, cut from the file).
func loadRecords(dir, hash string, repair bool) ([]Record, error) {
	path := filepath.Join(dir, ResultsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	good := bytes.LastIndexByte(b, '\n') + 1
	var out []Record
	seen := map[string]bool{}
	for i, line := range bytes.Split(b[:good], []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil || r.Key == "" {
			return nil, fmt.Errorf("%s line %d: not a result record", path, i+1)
		}
		if r.Study != hash {
			made := "a study of other settings (study_hash " + strconv.Quote(r.Study) + ")"
			if r.Study == "" {
				made = "no study this toolkit can check (it has no study_hash)"
			}
			return nil, fmt.Errorf("%s line %d (cell %s): made by %s, but %s's %s has config_hash %q: the line was copied or appended from elsewhere; remove it or use another directory", path, i+1, r.Key, made, dir, ManifestFile, hash)
		}
		if !seen[r.Key] {
			out = append(out, r)
			seen[r.Key] = true
		}
	}
	if good < len(b) && repair {
		if err := fsutil.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(b[:good]); return err }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Pending returns the cells of a shard that the directory's results.jsonl
// does not hold yet (all of them for a new directory). A directory of
// another study, or of other settings, is an error, as for Run.
func Pending(s Study, dir string, sh Shard) ([]Cell, error) {
	if sh.Count == 0 {
		sh = All
	}
	want, err := s.manifest()
	if err != nil {
		return nil, err
	}
	if have, err := ReadManifest(dir); err == nil {
		if err := sameStudy(dir, have, want); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	records, err := loadRecords(dir, want.Hash, false)
	if err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, r := range records {
		done[r.Key] = true
	}
	var out []Cell
	for i, c := range s.Cells {
		if sh.Has(i) && !done[c.Key] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Decoder returns a function that reads the study a study.json's config
// defines, for a study whose config is a C (a directory to merge).
func Decoder[C interface{ Study() Study }]() func(config json.RawMessage) (Study, error) {
	return func(config json.RawMessage) (Study, error) {
		var c C
		if err := json.Unmarshal(config, &c); err != nil {
			return Study{}, err
		}
		return c.Study(), nil
	}
}

// Reporter returns a function that writes the report of a study whose
// config is a C into a directory: decode reads its records, report writes
// the files.
func Reporter[C, R any](decode func(C, []Record) (R, error), report func(dir string, r R) ([]string, error)) func(dir string, st Study, recs []Record) error {
	return func(dir string, st Study, recs []Record) error {
		c, ok := st.Config.(C)
		if !ok {
			return fmt.Errorf("study %s: config of type %T", st.Name, st.Config)
		}
		r, err := decode(c, recs)
		if err == nil {
			_, err = report(dir, r)
		}
		return err
	}
}
