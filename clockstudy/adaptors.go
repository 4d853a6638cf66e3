package clockstudy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/train"
)

// adaptorDir is where an adaptor of these distillation settings is
// distilled and found again: its name (distill.Config.Name) and a short
// hash of every setting, so that studies with other distillation budgets
// (the quick and the full) keep their adaptors apart.
func (r *Runner) adaptorDir(cfg distill.Config) string {
	b, _ := json.Marshal(cfg)
	h := sha256.Sum256(b)
	return filepath.Join(r.Adaptors, cfg.Name()+"-"+hex.EncodeToString(h[:4]))
}

// finished loads a method's adaptor when Adaptors holds a finished one of
// the same teacher and settings.
func (r *Runner) finished(m Method) (distill.Adaptor, *AdaptorInfo, bool, error) {
	cfg := m.DistillConfig(r.Config.Distill)
	dir := r.adaptorDir(cfg)
	man, err := distill.ReadManifest(dir)
	if err != nil || !sameConfig(man.Config, cfg) || man.Epochs != cfg.Epochs {
		return nil, nil, false, nil
	}
	a, man, err := distill.Load(dir, r.Model, m.Sampler, m.Steps, false)
	if err != nil {
		return nil, nil, false, err
	}
	return a, &AdaptorInfo{Dir: dir, Params: distill.ParamCount(a), MFLOPs: float64(a.FLOPs()) / 1e6, ValLoss: man.ValLoss,
		IdentityValLoss: man.IdentityValLoss, Epochs: man.Epochs, Seconds: man.Seconds}, true, nil
}

// distiller returns a distiller (new, or resumed from a checkpoint) for a
// method's adaptor, holding the lock of its directory; nil when another
// process finished it meanwhile.
func (r *Runner) distiller(m Method) (*distill.Distiller, func(), error) {
	cfg := m.DistillConfig(r.Config.Distill)
	dir := r.adaptorDir(cfg)
	unlock, err := fsutil.LockWait(dir, r.Context)
	if err != nil {
		return nil, nil, err
	}
	if _, _, ok, err := r.finished(m); ok || err != nil {
		unlock()
		return nil, nil, err
	}
	var data *datasets.Images
	if cfg.Data == "noised" {
		if r.mnist == nil {
			if r.mnist, err = datasets.MNIST("train", "", true); err != nil {
				unlock()
				return nil, nil, err
			}
		}
		data = r.mnist
	}
	var d *distill.Distiller
	if has, _ := train.HasCheckpoint(dir); has {
		if d, err = distill.ResumeDistiller(dir, r.Model, r.ModelDir, r.Noise, data); err == nil && !sameConfig(d.Config, cfg) {
			err = fmt.Errorf("%s holds a distillation with other settings: remove it or choose another -adaptors directory", dir)
		}
		if err == nil {
			r.logf("%s: resuming the distillation in %s at epoch %d", m.Label(), dir, d.Epoch)
		}
	} else {
		d, err = distill.NewDistiller(dir, r.Model, r.ModelDir, r.Noise, cfg, data)
		if err == nil {
			r.logf("%s: distilling %d epochs of %d trajectories into %s", m.Label(), cfg.Epochs, cfg.Trajectories, dir)
		}
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	if r.Text != nil {
		if err := d.UseText(r.Text, r.Captions); err != nil {
			unlock()
			return nil, nil, err
		}
	}
	d.UnrollBatch = r.batch()
	if r.Log != nil {
		d.Log = prefixed{r.Log, m.Label() + ": "}
	}
	return d, unlock, nil
}

// prefixed writes lines with a prefix.
type prefixed struct {
	w      io.Writer
	prefix string
}

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Prepare distils the adaptors the methods need that Adaptors does not hold
// finished yet. Adaptors of one operating point, cut, data and epoch are
// distilled side by side on shared trajectories (distill.Source): each
// epoch's teacher trajectories are unrolled once for all of them.
func (r *Runner) Prepare(methods []Method) error {
	type group struct{ ds []*distill.Distiller }
	groups := map[string]*group{}
	var order []string
	var unlocks []func()
	defer func() {
		for _, u := range unlocks {
			u()
		}
	}()
	seen := map[string]bool{}
	for _, m := range methods {
		if !m.Trained() {
			continue
		}
		m, err := r.resolve(m)
		if err != nil {
			return err
		}
		// Cells that share an adaptor (the multi-step adaptor's, a measured
		// schedule equal to another cell's) distil it once.
		if dir := r.adaptorDir(m.DistillConfig(r.Config.Distill)); seen[dir] {
			continue
		} else {
			seen[dir] = true
		}
		if _, _, ok, err := r.finished(m); ok || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		d, unlock, err := r.distiller(m)
		if err != nil {
			return err
		}
		if d == nil {
			continue
		}
		unlocks = append(unlocks, unlock)
		k := fmt.Sprintf("%s/e%d", d.RecordsKey(), d.Epoch)
		if groups[k] == nil {
			groups[k] = &group{}
			order = append(order, k)
		}
		groups[k].ds = append(groups[k].ds, d)
	}
	ctx := r.Context
	if ctx == nil {
		ctx = context.Background()
	}
	for _, k := range order {
		g := groups[k]
		src := distill.NewSource(len(g.ds))
		errs := make(chan error, len(g.ds))
		for _, d := range g.ds {
			d.Source = src
			go func() { errs <- d.Run(ctx) }()
		}
		var first error
		for range g.ds {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		if errors.Is(first, train.ErrInterrupted) {
			return study.ErrInterrupted
		}
		if first != nil {
			return first
		}
	}
	return nil
}

// adaptor returns the method's adaptor, distilling it first when Adaptors
// holds no finished one for the same teacher and settings.
func (r *Runner) adaptor(m Method) (distill.Adaptor, *AdaptorInfo, error) {
	if !m.Trained() {
		a, err := distill.New(r.Model, distill.AdaptorConfig{Kind: m.Kind, Depth: m.Depth, Steps: m.Steps}, 0)
		return a, &AdaptorInfo{}, err
	}
	if a, info, ok, err := r.finished(m); ok || err != nil {
		if ok {
			r.logf("%s: using the adaptor in %s", m.Label(), info.Dir)
		}
		return a, info, err
	}
	if err := r.Prepare([]Method{m}); err != nil {
		return nil, nil, err
	}
	a, info, ok, err := r.finished(m)
	if err == nil && !ok {
		err = fmt.Errorf("%s: the adaptor did not finish", m.Label())
	}
	return a, info, err
}

func sameConfig(a, b distill.Config) bool {
	if a.Adaptor.Width == 0 {
		a.Adaptor.Width = distill.DefaultWidth(a.Adaptor.Kind)
	}
	if b.Adaptor.Width == 0 {
		b.Adaptor.Width = distill.DefaultWidth(b.Adaptor.Kind)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
