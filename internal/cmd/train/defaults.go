package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/unet"
)

// inheritDefaults copies the sampling defaults of the model a run started
// from (-init, or a guidance-distilled student's teacher) into the run's
// model directory where it has none of its own: a text model's guidance
// and steps (diffusion.SamplingDefaultsFile), an editor's scales, steps
// and chaining (edits.DefaultsFile). A fine-tuned model is then sampled
// and edited as its parent is, which is how a fine-tune is compared with
// it, rather than at diffusers' defaults; each file's chosen_by says
// where its settings came from. It returns the files it wrote.
func inheritDefaults(from, model string) ([]string, error) {
	if from == "" {
		return nil, nil
	}
	if _, err := os.Stat(model); err != nil {
		return nil, nil // no model written: nothing to carry them to
	}
	var wrote []string
	for _, f := range []struct {
		name    string
		inherit func(from, model, name string) (bool, error)
	}{
		{diffusion.SamplingDefaultsFile, inherit[diffusion.SamplingDefaults](func(d *diffusion.SamplingDefaults) *string { return &d.ChosenBy })},
		{edits.DefaultsFile, inherit[edits.Defaults](func(d *edits.Defaults) *string { return &d.ChosenBy })},
	} {
		ok, err := f.inherit(from, model, f.name)
		if err != nil {
			return wrote, err
		}
		if ok {
			wrote = append(wrote, filepath.Join(model, f.name))
		}
	}
	return wrote, nil
}

// inherit returns the copier of one defaults file of type T, whose
// chosen_by chosen points to: it reads from's file (nothing to do without
// one, or when model has its own), refuses one that is not a T, and
// writes it into model with chosen_by naming from.
func inherit[T any](chosen func(*T) *string) func(from, model, name string) (bool, error) {
	return func(from, model, name string) (bool, error) {
		src := filepath.Join(unet.Dir(from), name)
		b, err := os.ReadFile(src)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		dst := filepath.Join(model, name)
		if _, err := os.Stat(dst); err == nil {
			return false, nil
		}
		var v T
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return false, fmt.Errorf("%s: %w", src, err)
		}
		c := chosen(&v)
		*c = fmt.Sprintf("inherited from %s, the model this one was trained from: %s", from, *c)
		return true, fsutil.WriteAtomic(dst, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(v)
		})
	}
}
