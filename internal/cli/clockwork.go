package cli

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/unet"
)

// ClockworkFlags are the flags that put a Clockwork adaptor into a sampling
// command: -adaptor, -clock, -at, -depth and -force.
type ClockworkFlags struct {
	Adaptor string
	Clock   int
	At      string
	Depth   int
	Force   bool
	fs      *flag.FlagSet
}

// Register adds the flags to fs.
func (f *ClockworkFlags) Register(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.Adaptor, "adaptor", "", "Clockwork: an adaptor directory, or identity (default: none, the plain U-Net)")
	fs.IntVar(&f.Clock, "clock", 0, "Clockwork clock N: the full U-Net every N steps (default: the adaptor's own, clock 2 for identity)")
	fs.StringVar(&f.At, "at", "", "Clockwork: explicit 1-based adaptor steps, e.g. 2,4,6,8")
	fs.IntVar(&f.Depth, "depth", 1, "cut depth of a training-free adaptor (identity, oracle); a distilled adaptor keeps its own")
	fs.BoolVar(&f.Force, "force", false, "use an adaptor distilled for another teacher or operating point")
}

// Check reports flags that do not go together or values that are not
// theirs (a usage error): every flag given either acts or is refused.
func (f *ClockworkFlags) Check() error {
	given := map[string]bool{}
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	}
	if f.Adaptor == "" && (given["clock"] || given["at"] || given["force"] || given["depth"]) {
		return fmt.Errorf("-clock, -at, -depth and -force go with -adaptor")
	}
	if given["clock"] && given["at"] {
		return fmt.Errorf("give -clock or -at, not both")
	}
	if given["clock"] && f.Clock < 1 {
		return fmt.Errorf("-clock %d: the full U-Net every N steps needs N ≥ 1", f.Clock)
	}
	if given["depth"] {
		if k, err := distill.LookupKind(f.Adaptor); err != nil || k.Trainable {
			return fmt.Errorf("-depth is the cut depth of a training-free adaptor (identity, oracle); the distilled adaptor %s keeps the depth it was distilled at (its %s)", f.Adaptor, distill.ManifestFile)
		}
	}
	return nil
}

// ClockSpec returns the clock the flags ask for, in distill.ParseClock's
// syntax; empty for the adaptor's own.
func (f *ClockworkFlags) ClockSpec() string {
	if f.Clock > 0 {
		return fmt.Sprintf("clock:%d", f.Clock)
	}
	return f.At
}

// Name is a file-name-safe suffix naming the adaptor and clock ("" without
// an adaptor): "-identity-clock2", "-resnet-dpmpp2m8-clock2-2_4_6_8".
func (f *ClockworkFlags) Name() string {
	if f.Adaptor == "" {
		return ""
	}
	s := "-" + filepath.Base(filepath.Clean(f.Adaptor))
	if spec := f.ClockSpec(); spec != "" {
		s += "-" + strings.NewReplacer(":", "", ",", "_").Replace(spec)
	}
	return s
}

// Denoisers returns a model's plain denoiser and the denoiser the flags
// ask for (Clockwork around the model, or the plain one again), both under
// the guidance, and a description of the second. The adaptor is checked
// against the model, sampler and steps unless -force.
func (f *ClockworkFlags) Denoisers(m *unet.Model, dir string, g diffusion.Guidance, sampler string, steps int) (plain, method diffusion.Denoiser, desc string, err error) {
	plain, err = diffusion.Guide(&diffusion.ModelDenoiser{Model: m}, g)
	if err != nil || f.Adaptor == "" {
		return plain, plain, dir, err
	}
	cw, man, err := distill.Open(m, f.Adaptor, f.Depth, sampler, steps, f.ClockSpec(), f.Force)
	if err != nil {
		return nil, nil, "", err
	}
	method, err = diffusion.Guide(cw, g)
	desc = fmt.Sprintf("%s + clockwork %s adaptor (%s), schedule %s", dir, man.Adaptor.Kind, f.Adaptor, cw.Clock)
	return plain, method, desc, err
}
