package study

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// Merge joins the results of study directories (the shards of one study)
// into out: their manifests must agree (the same study with the same
// settings), and a cell found in several must have the same result in each.
// out gets the manifest and the union of the records, in the order of the
// first directory's records followed by the others' new ones; cells holds
// the study's cell keys in order, to sort the union by (nil: keep that
// order). It returns the merged manifest and records.
//
// same decides whether two results of one cell agree (nil: byte for byte);
// a study whose results hold measurements that vary from run to run (wall
// times) passes one that compares the rest.
func Merge(out string, dirs []string, cells []string, same func(a, b json.RawMessage) bool) (Manifest, []Record, error) {
	if same == nil {
		same = func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }
	}
	if len(dirs) == 0 {
		return Manifest{}, nil, fmt.Errorf("merge: no directories")
	}
	// Results already in out are kept: out joins the merge.
	if _, err := ReadManifest(out); err == nil {
		in := false
		for _, d := range dirs {
			if filepath.Clean(d) == filepath.Clean(out) {
				in = true
			}
		}
		if !in {
			dirs = append([]string{out}, dirs...)
		}
	}
	var m Manifest
	var all []Record
	byKey := map[string]int{}
	for i, d := range dirs {
		dm, recs, err := Load(d)
		if err != nil {
			return Manifest{}, nil, fmt.Errorf("merge: %w", err)
		}
		if i == 0 {
			m = dm
		} else if err := sameStudy(d, dm, m); err != nil {
			return Manifest{}, nil, fmt.Errorf("merge: %w (compared with %s)", err, dirs[0])
		}
		for _, r := range recs {
			if j, ok := byKey[r.Key]; ok {
				if !same(all[j].Result, r.Result) {
					return Manifest{}, nil, fmt.Errorf("merge: cell %s has different results in %s and another directory", r.Key, d)
				}
				continue
			}
			byKey[r.Key] = len(all)
			all = append(all, r)
		}
	}
	if cells != nil {
		pos := map[string]int{}
		for i, k := range cells {
			pos[k] = i
		}
		sorted := make([]Record, 0, len(all))
		for _, k := range cells {
			if j, ok := byKey[k]; ok {
				sorted = append(sorted, all[j])
			}
		}
		for _, r := range all {
			if _, ok := pos[r.Key]; !ok {
				return Manifest{}, nil, fmt.Errorf("merge: cell %s is not a cell of the %s study", r.Key, m.Study)
			}
		}
		all = sorted
	}
	unlock, err := fsutil.Lock(out)
	if err != nil {
		return Manifest{}, nil, err
	}
	defer unlock()
	if have, err := ReadManifest(out); err == nil {
		if err := sameStudy(out, have, m); err != nil {
			return Manifest{}, nil, fmt.Errorf("merge: %w", err)
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, nil, err
	}
	if err := fsutil.WriteAtomic(filepath.Join(out, ManifestFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}); err != nil {
		return Manifest{}, nil, err
	}
	err = fsutil.WriteAtomic(filepath.Join(out, ResultsFile), func(w io.Writer) error {
		for _, r := range all {
			line, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := w.Write(append(line, '\n')); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Manifest{}, nil, err
	}
	if _, err := os.Stat(out); err != nil {
		return Manifest{}, nil, err
	}
	return m, all, nil
}
