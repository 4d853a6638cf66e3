// Package soup is the soup command, run as `clockwork soup` (cmd/clockwork)
// or `go run ./experiments/soup`; the command's documentation is in
// experiments/soup.
package soup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/weightio"
)

// File is the record a soup writes into its directory: the ingredients,
// their weights and the invocation's provenance.
const File = "soup.json"

// Run runs the soup command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status.
func Run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	cli.ExitOnSignal() // nothing is in place until the last rename
	return run(args, stdout, stderr)
}

// defaults are the sampling defaults a directory may carry, taken from the
// first ingredient that has them rather than required to agree: a run
// fine-tuned before its trainer copied them lacks them.
var defaults = []string{"editor_defaults.json", "sampling_defaults.json"}

// skipped are files that describe one directory's making, not the model:
// they are not compared and not carried over.
var skipped = []string{"README.md", "provenance.json", File}

// Ingredient is one model directory of a soup in its record.
type Ingredient struct {
	Dir    string  `json:"dir"`
	Weight float64 `json:"weight"`
	// SHA256 is each weights file's hash, by its path in the directory.
	SHA256 map[string]string `json:"sha256"`
}

// Record is what File holds.
type Record struct {
	Ingredients []Ingredient `json:"ingredients"`
	// Defaults names the ingredient whose sampling defaults were taken.
	Defaults string `json:"defaults,omitempty"`
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := cli.New("soup", "average the weights of model directories fine-tuned from one parent (a model soup, Wortsman et al., ICML 2022) into a new model directory",
		[]string{"soup -out runs/soup runs/a/model runs/b/model", "soup -out runs/soup -weights 0.25,0.75 runs/a/model runs/b/model"}, stdout, stderr)
	flags := cmd.Flags
	out := flags.String("out", "", "model directory to write (must not exist, or be empty)")
	ws := flags.String("weights", "", "comma-separated weights of the directories, summing to 1 (default: equal)")
	if code, ok := cmd.Parse(args, true); !ok {
		return code
	}
	dirs := flags.Args()
	if *out == "" || len(dirs) < 2 {
		return cmd.Usage("-out and at least two model directories are required")
	}
	weights := make([]float64, len(dirs))
	for i := range weights {
		weights[i] = 1 / float64(len(dirs))
	}
	if *ws != "" {
		fields := strings.Split(*ws, ",")
		if len(fields) != len(dirs) {
			return cmd.Usage("-weights gives %d weights for %d directories", len(fields), len(dirs))
		}
		for i, f := range fields {
			w, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return cmd.Usage("-weights: %q is not a number", f)
			}
			weights[i] = w
		}
	}
	if err := fsutil.CheckOutDir("-out", *out); err != nil {
		return cmd.Usage("%v", err)
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		return cmd.Usage("-out %s is not empty: a soup is written into a new directory", *out)
	}
	rec, err := mix(*out, dirs, weights, func(dir string, rec Record) error {
		return cmd.WriteStamped(filepath.Join(dir, File), rec)
	})
	if err != nil {
		return cmd.Fail(err)
	}
	for _, in := range rec.Ingredients {
		cmd.Printf("%.4f × %s\n", in.Weight, in.Dir)
	}
	cmd.Printf("wrote %s\n", *out)
	return 0
}

// mix writes the soup of dirs into out: every weights file averaged, every
// other file (those of skipped aside) the same in all of them and copied,
// the sampling defaults the first ingredient's that has them, and the
// record written by record. It builds the directory beside out and renames
// it into place, so that a failure leaves nothing.
func mix(out string, dirs []string, weights []float64, record func(dir string, rec Record) error) (Record, error) {
	files, err := listFiles(dirs[0])
	if err != nil {
		return Record{}, err
	}
	var rec Record
	for i, d := range dirs {
		rec.Ingredients = append(rec.Ingredients, Ingredient{Dir: d, Weight: weights[i], SHA256: map[string]string{}})
		if i == 0 {
			continue
		}
		other, err := listFiles(d)
		if err != nil {
			return Record{}, err
		}
		if !slices.Equal(files, other) {
			return Record{}, fmt.Errorf("%s holds %s where %s holds %s: a soup's ingredients share one layout",
				d, strings.Join(other, ", "), dirs[0], strings.Join(files, ", "))
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), "."+filepath.Base(out)+".tmp*")
	if err != nil {
		return Record{}, err
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		dst := filepath.Join(tmp, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return Record{}, err
		}
		if filepath.Ext(f) == ".safetensors" {
			paths := make([]string, len(dirs))
			for i, d := range dirs {
				paths[i] = filepath.Join(d, f)
				if rec.Ingredients[i].SHA256[f], err = hashFile(paths[i]); err != nil {
					return Record{}, err
				}
			}
			names, arrays, err := weightio.Average(paths, weights)
			if err != nil {
				return Record{}, err
			}
			if err := weightio.WriteSafetensors(dst, names, arrays); err != nil {
				return Record{}, err
			}
			continue
		}
		first, err := os.ReadFile(filepath.Join(dirs[0], f))
		if err != nil {
			return Record{}, err
		}
		for _, d := range dirs[1:] {
			b, err := os.ReadFile(filepath.Join(d, f))
			if err != nil {
				return Record{}, err
			}
			if !bytes.Equal(b, first) {
				return Record{}, fmt.Errorf("%s differs from %s: a soup averages models of one configuration",
					filepath.Join(d, f), filepath.Join(dirs[0], f))
			}
		}
		if err := os.WriteFile(dst, first, 0o644); err != nil {
			return Record{}, err
		}
	}
	for _, f := range defaults {
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, f))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return Record{}, err
			}
			if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
				return Record{}, err
			}
			rec.Defaults = d
			break
		}
	}
	if err := record(tmp, rec); err != nil {
		return Record{}, err
	}
	if err := os.Remove(out); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Record{}, fmt.Errorf("-out %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// listFiles returns the regular files under dir by their slash-separated
// path in it, sorted, leaving out the skipped, the defaults and hidden
// files (locks, temporaries). A directory without a config.json is not a
// model directory and an error naming it.
func listFiles(dir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return nil, fmt.Errorf("%s is not a model directory (no config.json): %w", dir, err)
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), ".") && p != dir {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if e.IsDir() || slices.Contains(skipped, e.Name()) || slices.Contains(defaults, e.Name()) {
			return nil
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		switch filepath.Ext(rel) {
		case ".bin", ".pt", ".pth", ".npz", ".ckpt":
			return fmt.Errorf("%s: a soup averages safetensors weights only (load and save the directory to convert it)", p)
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	return files, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
