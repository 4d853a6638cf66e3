package diffusion

import "math"

// ddpmSampler is ancestral sampling (Ho, Jain & Abbeel, "Denoising
// Diffusion Probabilistic Models", NeurIPS 2020) on the respaced steps, with
// the posterior variance ("fixed_small") or β ("fixed_large",
// Options.Variance), as diffusers' DDPMScheduler; it clips each x₀ estimate
// to [−1, 1] unless Options.NoClip.
var ddpmSampler = Sampler{Name: "ddpm", Timesteps: spaced(SpacingLeading, sameCount, false), Sample: ddpm, Spacing: SpacingLeading}

func ddpm(r *Run) error {
	x := r.X.Data().([]float32)
	z := make([]float32, len(x))
	ac := r.Schedule.AlphasCumprod
	for i, tf := range r.Timesteps {
		t := int(tf)
		aT, sc := vpAt(r.Schedule, t)
		p, err := r.Denoise(r.X, tf, sc)
		if err != nil {
			return err
		}
		aP := 1.0
		if i+1 < len(r.Timesteps) {
			aP = ac[int(r.Timesteps[i+1])]
		}
		bT, bP := 1-aT, 1-aP
		curA := aT / aP
		curB := 1 - curA
		cx0 := math.Sqrt(aP) * curB / bT
		cxt := math.Sqrt(curA) * bP / bT
		std := 0.0
		if t > 0 {
			r.Noise(i, z)
			v := math.Max(bP/bT*curB, 1e-20)
			if r.Options.Variance == "fixed_large" {
				v = curB
			}
			std = math.Sqrt(v)
		}
		for k, xv := range x {
			x0 := p.X0[k]
			if !r.Options.NoClip {
				x0 = clip(x0)
				p.X0[k] = x0
			}
			x[k] = float32(cx0*x0 + cxt*float64(xv) + std*float64(z[k]))
		}
		if err := r.EndStep(p.X0, r.X); err != nil {
			return err
		}
	}
	return nil
}

// vpAt returns ᾱ at integer timestep t and the variance-preserving
// scaling of the state there.
func vpAt(s *Schedule, t int) (float64, Scaling) {
	a := s.AlphasCumprod[t]
	return a, VP(math.Sqrt(a), math.Sqrt(1-a))
}

func clip(v float64) float64 { return math.Max(-1, math.Min(1, v)) }
