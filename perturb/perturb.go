package perturb

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
)

// Perturbation is one perturbation: at a tap, with mixing weight A (1:
// none, 0: replacement by noise), at every step from From on (From clean
// steps first; 0 perturbs every step).
type Perturbation struct {
	Tap  string  `json:"tap"`
	From int     `json:"from"`
	A    float64 `json:"a"`
}

// Validate reports a tap the model does not have (listing those it has), a
// start step outside the run's steps, or a weight outside [0, 1].
func (s Perturbation) Validate(taps []string, steps int) error {
	if !slices.Contains(taps, s.Tap) {
		return fmt.Errorf("unknown tap %q; the model's taps are %v", s.Tap, taps)
	}
	if s.From < 0 || s.From >= steps {
		return fmt.Errorf("start step k = %d: a run of %d steps has perturbable steps k = 0 to %d", s.From, steps, steps-1)
	}
	if !(s.A >= 0 && s.A <= 1) {
		return fmt.Errorf("mixing weight a = %v must lie in [0, 1]", s.A)
	}
	return nil
}

// Mix perturbs one sample's feature map f (c channels of hw values, in
// place) with weight a, drawing z from rng: per channel,
// f ← m + √a·(f − m) + √(1−a)·s·ε with ε ~ N(0, 1), where m and s are the
// channel's mean and (population) standard deviation.
func Mix(f []float32, c, hw int, a float64, rng *rand.Rand) {
	ka, kz := math.Sqrt(a), math.Sqrt(1-a)
	for ch := 0; ch < c; ch++ {
		x := f[ch*hw : (ch+1)*hw]
		var sum float64
		for _, v := range x {
			sum += float64(v)
		}
		m := sum / float64(hw)
		var sq float64
		for _, v := range x {
			d := float64(v) - m
			sq += d * d
		}
		s := math.Sqrt(sq / float64(hw))
		for i, v := range x {
			x[i] = float32(m + ka*(float64(v)-m) + kz*s*rng.NormFloat64())
		}
	}
}

// noiseStream returns the random stream of a sample's perturbation at one
// step and tap.
func noiseStream(seed uint64, sample, step int, tap string) *rand.Rand {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(sample))
	binary.LittleEndian.PutUint64(b[8:], uint64(step))
	h.Write(b[:])
	h.Write([]byte(tap))
	return rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, h.Sum64()))
}

// Denoiser perturbs a U-Net's feature at one tap from a step on. It wraps
// any denoiser whose chain runs a U-Net through diffusion.Tapper (the plain
// model's diffusion.ModelDenoiser, a Clockwork denoiser) and learns the step
// and the rows from the sampler (diffusion.Stepper); put it inside
// diffusion.Guided.
type Denoiser struct {
	D            diffusion.Denoiser
	Perturbation Perturbation
	// Prefix, when not nil, holds the unperturbed run's outputs from the
	// same noise, conditioning and batches: the clean steps before
	// Perturbation.From are replayed from it instead of recomputed. Only a
	// denoiser whose chain keeps no state from step to step (no
	// diffusion.Stepper below this one: the plain model) is replayed; a
	// stateful one (Clockwork) runs every step.
	Prefix *Prefix

	tapper   diffusion.Tapper
	stateful bool
	rows     []diffusion.Row
	seed     uint64
	step     int
	active   bool
	buf      *tensor.Dense
}

// New returns a perturbing denoiser around d, checking the perturbation
// against the model's taps and the run's model evaluations (steps).
func New(d diffusion.Denoiser, p Perturbation, taps []string, steps int) (*Denoiser, error) {
	if err := p.Validate(taps, steps); err != nil {
		return nil, err
	}
	t := diffusion.FindTapper(d)
	if t == nil {
		return nil, fmt.Errorf("perturbation at %s: the denoiser runs no U-Net whose taps it can reach (diffusion.Tapper)", p.Tap)
	}
	pd := &Denoiser{D: d, Perturbation: p, tapper: t}
	for _, l := range diffusion.Layers(d) {
		if _, ok := l.(diffusion.Stepper); ok {
			pd.stateful = true
		}
	}
	return pd, nil
}

// Unwrap implements diffusion.Wrapper.
func (p *Denoiser) Unwrap() diffusion.Denoiser { return p.D }

// BeginStep implements diffusion.Stepper.
func (p *Denoiser) BeginStep(info diffusion.StepInfo) error {
	p.rows, p.seed, p.step = info.Rows, info.Seed, info.Index
	p.active = info.Index >= p.Perturbation.From && p.Perturbation.A < 1
	return nil
}

// Predict implements diffusion.Denoiser.
func (p *Denoiser) Predict(x *tensor.Dense, t float64, c diffusion.Cond) (*tensor.Dense, error) {
	if !p.active {
		if p.step < p.Perturbation.From && !p.stateful {
			if out := p.Prefix.lookup(p.step, p.rows); out != nil && out.Shape().Eq(x.Shape()) {
				return out.Clone().(*tensor.Dense), nil
			}
		}
		return p.D.Predict(x, t, c)
	}
	if p.rows == nil {
		return nil, fmt.Errorf("perturbation at %s: no step information (run it through a sampler)", p.Perturbation.Tap)
	}
	p.tapper.SetTapHook(p.hook)
	defer p.tapper.SetTapHook(nil)
	return p.D.Predict(x, t, c)
}

// hook mixes the feature at the perturbation's tap, row by row.
func (p *Denoiser) hook(tap string, x *tensor.Dense) (*tensor.Dense, error) {
	if tap != p.Perturbation.Tap {
		return nil, nil
	}
	s := x.Shape()
	if s[0] != len(p.rows) {
		return nil, fmt.Errorf("perturbation: %d rows at %s for %d described by the sampler", s[0], tap, len(p.rows))
	}
	if p.buf == nil || !p.buf.Shape().Eq(s) {
		p.buf = tensor.New(tensor.WithShape(s.Clone()...), tensor.Of(tensor.Float32))
	}
	dst := p.buf.Data().([]float32)
	copy(dst, x.Data().([]float32))
	c, hw := s[1], s[2]*s[3]
	per := c * hw
	for r, row := range p.rows {
		Mix(dst[r*per:(r+1)*per], c, hw, p.Perturbation.A, noiseStream(p.seed, row.Sample, p.step, tap))
	}
	return p.buf, nil
}
