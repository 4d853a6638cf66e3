package diffusion

import "math"

// Scaling says how a sampler's state x relates to x₀ and the noise ε at a
// model evaluation, so that the run can convert the model's output, of
// whatever prediction type, into the x₀ and ε estimates the sampler works
// with (the conversion k-diffusion's model wrappers do, once, outside the
// samplers).
type Scaling struct {
	// A and Sigma: x = A·x₀ + Sigma·ε.
	A, Sigma float64
	// Karras marks the σ-space state of Karras et al. (A = 1): the model
	// sees x/√(σ²+1), and v is converted in that space.
	Karras bool
}

// VP is the variance-preserving scaling x = √ᾱ·x₀ + √(1−ᾱ)·ε of DDPM and
// DDIM (a = √ᾱ, sigma = √(1−ᾱ)), and of DPM-Solver++ with a = α_t,
// sigma = σ_t: the model sees x itself.
func VP(a, sigma float64) Scaling { return Scaling{A: a, Sigma: sigma} }

// SigmaSpace is the state x = x₀ + σ·ε of Karras et al. ("Elucidating the
// Design Space of Diffusion-Based Generative Models", NeurIPS 2022); the
// model sees x/√(σ²+1).
func SigmaSpace(sigma float64) Scaling { return Scaling{A: 1, Sigma: sigma, Karras: true} }

// inputScale is what the state is multiplied by to make the model's input.
func (s Scaling) inputScale() float64 {
	if s.Karras {
		return 1 / math.Sqrt(s.Sigma*s.Sigma+1)
	}
	return 1
}

// Prediction is a model evaluation converted for the sampler: the x₀
// estimate of every element of the batch, and on demand the noise
// estimate. Its slices belong to the sampling run and are overwritten by
// the next evaluation; a sampler may change X0 in place (to clip it).
type Prediction struct {
	// X0 is the x₀ estimate, element for element of the state.
	X0 []float64

	pred string
	out  []float32
	x    []float32
	sc   Scaling
	eps  []float64
	has  bool
}

// Eps returns the noise estimate ε, element for element (from the model's
// output, not from a clipped X0).
func (p *Prediction) Eps() []float64 {
	if p.has {
		return p.eps
	}
	a, s := p.sc.A, p.sc.Sigma
	for k, o := range p.out {
		if p.sc.Karras && p.pred == PredictV {
			// ε = σ̂·x̂ + α̂·v in the model's space, x̂ = x/√(σ²+1).
			p.eps[k] = s*float64(p.x[k])/(s*s+1) + float64(o)/math.Sqrt(s*s+1)
			continue
		}
		p.eps[k] = toEps(p.pred, float64(o), float64(p.x[k]), a, s)
	}
	p.has = true
	return p.eps
}

// convert fills X0 from the model output out for the state x.
func (p *Prediction) convert(pred string, out, x []float32, sc Scaling) {
	p.pred, p.out, p.x, p.sc, p.has = pred, out, x, sc, false
	if !sc.Karras {
		for k, o := range out {
			p.X0[k] = toX0(pred, float64(o), float64(x[k]), sc.A, sc.Sigma)
		}
		return
	}
	s := sc.Sigma
	switch pred {
	case PredictEpsilon:
		for k, o := range out {
			p.X0[k] = float64(x[k]) - s*float64(o)
		}
	case PredictV:
		scale := 1 / math.Sqrt(s*s+1)
		for k, o := range out {
			p.X0[k] = float64(o)*(-s*scale) + float64(x[k])/(s*s+1)
		}
	default:
		for k, o := range out {
			p.X0[k] = float64(o)
		}
	}
}
