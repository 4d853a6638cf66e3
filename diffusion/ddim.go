package diffusion

import "math"

// ddimSampler is DDIM (Song, Meng & Ermon, "Denoising Diffusion Implicit
// Models", ICLR 2021), deterministic at Options.Eta 0, as diffusers'
// DDIMScheduler (ending at ᾱ = 1, or at ᾱ_0 when the scheduler config sets
// set_alpha_to_one false); it clips each x₀ estimate to
// [−1, 1] unless Options.NoClip.
var ddimSampler = Sampler{Name: "ddim", Timesteps: spaced(SpacingLeading, sameCount, false), Sample: ddim, Spacing: SpacingLeading}

func ddim(r *Run) error {
	x := r.X.Data().([]float32)
	z := make([]float32, len(x))
	T := r.Schedule.T()
	ac := r.Schedule.AlphasCumprod
	eta := r.Options.Eta
	final := 1.0 // ᾱ after the last step: set_alpha_to_one
	if one := r.Schedule.Config.SetAlphaToOne; one != nil && !*one {
		final = ac[0]
	}
	for i, tf := range r.Timesteps {
		t := int(tf)
		aT, sc := vpAt(r.Schedule, t)
		p, err := r.Denoise(r.X, tf, sc)
		if err != nil {
			return err
		}
		prev := t - T/r.Options.Steps // the whole run's step, also when Strength starts it part-way
		aP := final
		if prev >= 0 {
			aP = ac[prev]
		}
		bT := 1 - aT
		variance := (1 - aP) / bT * (1 - aT/aP)
		std := eta * math.Sqrt(variance)
		dir := math.Sqrt(math.Max(1-aP-std*std, 0))
		if eta > 0 {
			r.Noise(i, z)
		}
		eps := p.Eps()
		for k := range x {
			x0 := p.X0[k]
			if !r.Options.NoClip {
				x0 = clip(x0)
				p.X0[k] = x0
			}
			x[k] = float32(math.Sqrt(aP)*x0 + dir*eps[k] + std*float64(z[k]))
		}
		if err := r.EndStep(p.X0, r.X); err != nil {
			return err
		}
	}
	return nil
}
