package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/models"
	"github.com/clockwork-go/clockwork/unet"
)

// Sampling is what a sampling command works with: a model directory's
// model and noise schedule, the guidance asked for, and the setup of the
// samples to draw (their shape, noise, batches and class labels).
type Sampling struct {
	Dir      string
	Model    *unet.Model
	Noise    *diffusion.Schedule
	Guidance diffusion.Guidance
	Setup    evaluate.Setup
}

// LoadSampling loads the model of dir for n samples in batches of batch
// from seed, with class labels as diffusion.ParseLabels reads them ("" for
// an unconditional model; "cycle" gives none there either) and guidance of
// the given scale. It reports, before anything is drawn, settings the model
// cannot take and sizes beyond the memory left (extra: bytes per sample
// the command keeps besides the samples, what: what they are).
func LoadSampling(dir string, guidance float64, n, batch int, seed uint64, labels string, extra float64, what string) (*Sampling, error) {
	if n <= 0 {
		return nil, fmt.Errorf("-n %d: want a positive number of samples", n)
	}
	if batch <= 0 {
		return nil, fmt.Errorf("-batch %d: want a positive number of samples per batch", batch)
	}
	m, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		return nil, err
	}
	shape, err := m.Config.SampleShape()
	if err != nil {
		return nil, fmt.Errorf("-model %s: %w", dir, err)
	}
	k := m.Config.NumClasses()
	g, err := diffusion.ClassGuidance(k, guidance)
	if err != nil {
		return nil, err
	}
	need, err := diffusion.SampleMemory(m.Config, n, batch, shape, g.Branches())
	if err != nil {
		return nil, err
	}
	if err := sysmem.Check(need+float64(n)*extra, fmt.Sprintf("-n %d with -batch %d (samples of %d×%d×%d%s)", n, batch, shape[0], shape[1], shape[2], what)); err != nil {
		return nil, err
	}
	if k == 0 && labels == "cycle" {
		labels = ""
	}
	lab, err := diffusion.ParseLabels(labels, n, k)
	if err != nil {
		return nil, err
	}
	return &Sampling{Dir: dir, Model: m, Noise: noise, Guidance: g,
		Setup: evaluate.Setup{Noise: noise, Shape: shape, N: n, Batch: batch, Seed: seed, Cond: diffusion.Labels(lab)}}, nil
}

// CheckOutFiles reports an output path (by its flag) that cannot be
// written; empty paths are skipped.
func CheckOutFiles(flagPaths ...string) error {
	for i := 0; i+1 < len(flagPaths); i += 2 {
		if flagPaths[i+1] == "" {
			continue
		}
		if err := fsutil.CheckOutFile(flagPaths[i], flagPaths[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// SampleName names a sampling command's outputs: the model's name
// (models.Name), the sampler and steps, the guidance scale and the adaptor
// ("teacher-dpmpp2m8-g2-identity-clock2").
func SampleName(dir, sampler string, steps int, guidance float64, cw *ClockworkFlags) string {
	name := fmt.Sprintf("%s-%s%d", models.Name(dir), sampler, steps)
	if guidance != 1 {
		name += fmt.Sprintf("-g%g", guidance)
	}
	return name + cw.Name()
}

// Outputs fills in a command's output file and grid: out, when empty, is
// runs/SUBDIR/NAME.EXT; grid, when "-", the PNG beside it (empty: none).
// Both are checked to be writable.
func Outputs(out, grid *string, subdir, name, ext string) error {
	if *out == "" {
		*out = filepath.Join("runs", subdir, name+ext)
	}
	if *grid == "-" {
		*grid = strings.TrimSuffix(*out, filepath.Ext(*out)) + ".png"
	}
	return CheckOutFiles("-out", *out, "-grid", *grid)
}
