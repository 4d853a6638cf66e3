package nn

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Adam is the Adam optimiser (Kingma & Ba, "Adam: A Method for Stochastic
// Optimization", ICLR 2015) with bias correction, as torch.optim.Adam; with
// Decoupled set it is AdamW (Loshchilov & Hutter, "Decoupled Weight Decay
// Regularization", ICLR 2019), as torch.optim.AdamW. Moments are float32,
// one pair per parameter name.
type Adam struct {
	LR          float64
	Beta1       float64
	Beta2       float64
	Eps         float64
	WeightDecay float64
	Decoupled   bool

	// Steps is the number of updates made so far (t in the paper).
	Steps int
	// M and V are the first and second moment estimates by parameter name.
	M, V map[string][]float32
}

// NewAdam returns Adam with PyTorch's defaults (betas 0.9, 0.999; eps 1e-8)
// and learning rate lr.
func NewAdam(lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, M: map[string][]float32{}, V: map[string][]float32{}}
}

// NewAdamW returns AdamW with PyTorch's defaults (weight decay 0.01).
func NewAdamW(lr float64) *Adam {
	a := NewAdam(lr)
	a.WeightDecay, a.Decoupled = 0.01, true
	return a
}

// Update applies one step to the named parameters of p given their gradients
// (in the same order). A gradient holding NaN or Inf is an error, and then
// no parameter is changed.
func (a *Adam) Update(p *Params, names []string, grads []*tensor.Dense) error {
	if len(names) != len(grads) {
		return fmt.Errorf("adam: %d names for %d gradients", len(names), len(grads))
	}
	for i, n := range names {
		g := grads[i].Float32s()
		if len(g) != len(p.Data(n)) {
			return fmt.Errorf("adam: gradient of %s has %d values, parameter %d", n, len(g), len(p.Data(n)))
		}
		for _, v := range g {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("adam: gradient of %s holds NaN or Inf", n)
			}
		}
	}
	if a.M == nil {
		a.M, a.V = map[string][]float32{}, map[string][]float32{}
	}
	a.Steps++
	bc1 := 1 - math.Pow(a.Beta1, float64(a.Steps))
	bc2 := 1 - math.Pow(a.Beta2, float64(a.Steps))
	step := float32(a.LR / bc1)
	sq2 := float32(math.Sqrt(bc2))
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	eps := float32(a.Eps)
	wd := float32(a.WeightDecay)
	decay := float32(1 - a.LR*a.WeightDecay)
	for i, n := range names {
		x := p.Data(n)
		g := grads[i].Float32s()
		m, v := a.M[n], a.V[n]
		if m == nil {
			m, v = make([]float32, len(x)), make([]float32, len(x))
			a.M[n], a.V[n] = m, v
		}
		for j, gj := range g {
			if wd != 0 {
				if a.Decoupled {
					x[j] *= decay
				} else {
					gj += wd * x[j]
				}
			}
			m[j] = b1*m[j] + (1-b1)*gj
			v[j] = b2*v[j] + (1-b2)*gj*gj
			x[j] -= step * m[j] / (float32(math.Sqrt(float64(v[j])))/sq2 + eps)
		}
	}
	return nil
}

// GradNorm returns the global L2 norm of a set of gradients.
func GradNorm(grads []*tensor.Dense) float64 {
	var s float64
	for _, g := range grads {
		for _, v := range g.Float32s() {
			s += float64(v) * float64(v)
		}
	}
	return math.Sqrt(s)
}

// ClipGradNorm scales the gradients in place so that their global L2 norm is
// at most maxNorm, as torch.nn.utils.clip_grad_norm_ does, and returns the
// norm before clipping.
func ClipGradNorm(grads []*tensor.Dense, maxNorm float64) float64 {
	norm := GradNorm(grads)
	if norm > maxNorm && norm > 0 {
		c := float32(maxNorm / (norm + 1e-6))
		for _, g := range grads {
			d := g.Float32s()
			for i := range d {
				d[i] *= c
			}
		}
	}
	return norm
}

// EMA keeps an exponential moving average of parameters (Polyak averaging,
// as in the EMA weights used for sampling by Ho et al. 2020):
// shadow ← d·shadow + (1−d)·params, with d = min(Decay, (1+n)/(10+n)) after n
// updates when Warmup is set.
type EMA struct {
	Decay   float64
	Warmup  bool
	Updates int
	Shadow  *Params
}

// NewEMA starts an average at a copy of p.
func NewEMA(p *Params, decay float64) *EMA {
	return &EMA{Decay: decay, Shadow: p.Clone()}
}

// Update folds the current parameters into the average.
func (e *EMA) Update(p *Params) {
	d := e.Decay
	if e.Warmup {
		d = math.Min(d, float64(1+e.Updates)/float64(10+e.Updates))
	}
	e.Updates++
	df := float32(d)
	for _, n := range p.names {
		s, x := e.Shadow.Data(n), p.Data(n)
		for i, v := range x {
			s[i] = df*s[i] + (1-df)*v
		}
	}
}
