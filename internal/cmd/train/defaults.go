package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// inheritDefaults copies the sampling defaults of the model a run started
// from (-init, or a guidance-distilled student's teacher) into the run's
// model directory where it has none of its own: a text model's guidance
// and steps (diffusion.SamplingDefaultsFile), an editor's scales, steps
// and chaining (edits.DefaultsFile), each read and checked by its own
// loader. A fine-tuned model is then sampled and edited as its parent
// is, which is how a fine-tune is compared with it, rather than at
// diffusers' defaults; each file's chosen_by says where its settings came
// from. It returns the files it wrote.
func inheritDefaults(from, model string) ([]string, error) {
	if from == "" {
		return nil, nil
	}
	if _, err := os.Stat(model); err != nil {
		return nil, nil // no model written: nothing to carry them to
	}
	note := func(chosen string) string {
		return fmt.Sprintf("inherited from %s, the model this one was trained from: %s", from, chosen)
	}
	var wrote []string
	write := func(name string, v any) error {
		dst := filepath.Join(model, name)
		if _, err := os.Stat(dst); err == nil {
			return nil // the model's own
		}
		err := fsutil.WriteAtomic(dst, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(v)
		})
		if err == nil {
			wrote = append(wrote, dst)
		}
		return err
	}
	sd, err := diffusion.LoadSamplingDefaults(from)
	if err != nil {
		return wrote, err
	}
	if sd != nil {
		sd.ChosenBy = note(sd.ChosenBy)
		if err := write(diffusion.SamplingDefaultsFile, sd); err != nil {
			return wrote, err
		}
	}
	ed, err := edits.LoadDefaults(from)
	if err != nil {
		return wrote, err
	}
	if ed != nil {
		ed.ChosenBy = note(ed.ChosenBy)
		if err := write(edits.DefaultsFile, ed); err != nil {
			return wrote, err
		}
	}
	return wrote, nil
}
