package diffusion

import "math"

// dpmpp2mSampler is DPM-Solver++(2M) (Lu et al., "DPM-Solver++: Fast Solver
// for Guided Sampling of Diffusion Probabilistic Models", 2022), the
// multistep second-order data-prediction solver with the midpoint rule,
// first order at the first and the last step, as diffusers'
// DPMSolverMultistepScheduler (with final_sigmas_type "sigma_min" it ends
// at σ(0) instead of 0, second order from 15 steps on). It is the sampler
// of the Clockwork paper. Its grid has n+1 points of which it visits the n
// highest; the final step reaches σ = 0.
//
// Linspace spacing repeats timesteps at large step counts (999 distinct
// values among 1000); a repeated step leaves x unchanged, as in diffusers,
// and the second-order correction then uses the last distinct step instead
// of dividing by a zero step size.
var dpmpp2mSampler = Sampler{Name: "dpmpp2m", Timesteps: spaced(SpacingLinspace, func(n int) int { return n + 1 }, false), Sample: dpmpp2m, Spacing: SpacingLinspace, karras: karrasDPM}

func dpmpp2m(r *Run) error {
	x := r.X.Data().([]float32)
	sig := r.Sigmas()
	alphaSigma := func(s float64) (float64, float64) {
		a := 1 / math.Sqrt(s*s+1)
		return a, s * a
	}
	lambda := func(s float64) float64 {
		a, sg := alphaSigma(s)
		return math.Log(a) - math.Log(sg)
	}
	var prevX0 []float64
	var prevSig float64
	for i, t := range r.Timesteps {
		a0, s0 := alphaSigma(sig[i])
		p, err := r.Denoise(r.X, t, VP(a0, s0))
		if err != nil {
			return err
		}
		x0 := p.X0
		aT, sT := alphaSigma(sig[i+1])
		h := lambda(sig[i+1]) - lambda(sig[i])
		c := aT * (math.Exp(-h) - 1)
		ratio := sT / s0
		// First order at the end: always towards σ = 0, and below 15
		// steps towards sigma_min (diffusers' lower_order_final).
		last := i == len(r.Timesteps)-1 && (r.Options.Steps < 15 || r.Schedule.Config.FinalSigmasType != FinalSigmasSigmaMin)
		if h == 0 {
			if err := r.EndStep(x0, r.X); err != nil { // a repeated timestep
				return err
			}
			continue
		}
		if prevX0 == nil || last || prevSig == sig[i] {
			for k, xv := range x {
				x[k] = float32(ratio*float64(xv) - c*x0[k])
			}
		} else {
			r0 := (lambda(sig[i]) - lambda(prevSig)) / h
			for k, xv := range x {
				d1 := (x0[k] - prevX0[k]) / r0
				x[k] = float32(ratio*float64(xv) - c*x0[k] - 0.5*c*d1)
			}
		}
		if prevX0 == nil {
			prevX0 = make([]float64, len(x))
		}
		copy(prevX0, x0)
		prevSig = sig[i]
		if err := r.EndStep(x0, r.X); err != nil {
			return err
		}
	}
	return nil
}
