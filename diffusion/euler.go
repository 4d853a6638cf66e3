package diffusion

import (
	"math"
	"slices"
)

// eulerSampler is the Euler method on the probability-flow ODE in σ-space
// (Karras et al., "Elucidating the Design Space of Diffusion-Based
// Generative Models", NeurIPS 2022), as diffusers' EulerDiscreteScheduler
// (no churn). The state is x/√ᾱ; the model sees x/√(σ²+1). Its linspace
// timesteps are float32 fractions, as diffusers lays them.
var eulerSampler = Sampler{Name: "euler", Timesteps: spaced(SpacingLinspace, sameCount, true), Sample: euler, Spacing: SpacingLinspace, karras: karrasEuler}

func euler(r *Run) error {
	x := r.X.Data().([]float32)
	sig := r.Sigmas()
	init := slices.Max(sig)
	if r.Options.Spacing == SpacingLeading {
		init = math.Sqrt(init*init + 1)
	}
	if r.FromImages() {
		// √ᾱ·(x₀ + σ·ε) to the σ-space state x₀ + σ·ε.
		init = math.Sqrt(sig[0]*sig[0] + 1)
	}
	for k := range x {
		x[k] = float32(float64(x[k]) * init)
	}
	for i, t := range r.Timesteps {
		s := sig[i]
		p, err := r.Denoise(r.X, t, SigmaSpace(s))
		if err != nil {
			return err
		}
		dt := sig[i+1] - s
		for k, xv := range x {
			x[k] = float32(float64(xv) + (float64(xv)-p.X0[k])/s*dt)
		}
		if err := r.EndStep(p.X0, r.X); err != nil {
			return err
		}
	}
	return nil
}
