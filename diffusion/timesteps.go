package diffusion

import (
	"fmt"
	"math"
)

// Timestep spacings (Lin et al. 2024, Table 2), as diffusers names them.
const (
	SpacingLeading  = "leading"  // multiples of T/n up from 0
	SpacingTrailing = "trailing" // every T/n-th step down from T−1
	SpacingLinspace = "linspace" // evenly spaced from T−1 down to 0
)

// Timesteps returns the descending timesteps the registered sampler visits
// in n steps of a schedule of T training steps, as diffusers' set_timesteps
// computes them for that sampler and spacing (empty: the sampler's default,
// leading for DDPM and DDIM, linspace for DPM-Solver++ and Euler).
func Timesteps(sampler string, n, T int, spacing string) ([]float64, error) {
	s, err := LookupSampler(sampler)
	if err != nil {
		return nil, err
	}
	return s.Timesteps(n, T, spacing)
}

// Grid returns the n highest of points timesteps laid over T training steps
// with a spacing (leading, trailing or linspace), in descending order, as
// diffusers' schedulers lay them: linspace values rounded to integers, or
// kept as float32 fractions when fractional (Euler's). Trailing spacing
// ignores points. A sampler's Timesteps calls it with its own points: n for
// most, n+1 for DPM-Solver++, whose final step reaches σ = 0 from the
// last visited one.
func Grid(n, points, T int, spacing string, fractional bool) ([]float64, error) {
	if n < 1 || n > T {
		return nil, fmt.Errorf("%d steps: want 1 to %d", n, T)
	}
	if points < n {
		return nil, fmt.Errorf("a grid of %d points cannot hold %d steps", points, n)
	}
	out := make([]float64, 0, n)
	switch spacing {
	case SpacingLinspace:
		for i := points - 1; i >= points-n; i-- {
			v := linspaceAt(0, float64(T-1), points, i)
			if fractional {
				// numpy.linspace(..., dtype=float32): fractional timesteps.
				v = float64(float32(v))
			} else {
				v = math.RoundToEven(v) // numpy's round
			}
			out = append(out, v)
		}
	case SpacingLeading:
		r := T / points
		for i := points - 1; i >= points-n; i-- {
			out = append(out, float64(i*r))
		}
	case SpacingTrailing:
		out = trailing(T, n)
	default:
		return nil, fmt.Errorf("timestep spacing %q is not one of leading, trailing, linspace", spacing)
	}
	return out, nil
}

// linspaceAt returns element i of numpy.linspace(a, b, n).
func linspaceAt(a, b float64, n, i int) float64 {
	if n == 1 {
		return a
	}
	step := (b - a) / float64(n-1)
	if i == n-1 {
		return b
	}
	return a + float64(i)*step
}

// sigmaOf returns σ = √((1−ᾱ)/ᾱ) of training timestep i. The last ᾱ of a
// zero-terminal-SNR schedule counts as 2⁻²⁴, as diffusers' Euler and
// DPM-Solver schedulers set it, so that the first σ is large but finite;
// other schedules' ᾱ are used as they are (the cosine schedule's last is
// tiny, not zero), and only an ᾱ of exactly 0 is raised to 2⁻²⁴.
func (s *Schedule) sigmaOf(i int) float64 {
	a := s.AlphasCumprod[i]
	if a == 0 || (s.Config.RescaleBetasZeroSNR && i == len(s.AlphasCumprod)-1) {
		a = 0x1p-24
	}
	return math.Sqrt((1 - a) / a)
}

// sigmasAt returns σ(t) = √((1−ᾱ)/ᾱ) (sigmaOf) interpolated linearly at
// each timestep (numpy.interp over integer timesteps), followed by a final
// 0, rounded to float32 as diffusers stores them.
func (s *Schedule) sigmasAt(ts []float64) []float64 {
	sig := make([]float64, len(s.AlphasCumprod))
	for i := range s.AlphasCumprod {
		sig[i] = s.sigmaOf(i)
	}
	out := make([]float64, len(ts)+1)
	for i, t := range ts {
		lo := int(math.Floor(t))
		lo = max(0, min(lo, len(sig)-1))
		hi := min(lo+1, len(sig)-1)
		f := t - float64(lo)
		out[i] = float64(float32(sig[lo] + f*(sig[hi]-sig[lo])))
	}
	return out
}

// trailing returns round(numpy.arange(T, 0, −T/n)) − 1.
func trailing(T, n int) []float64 {
	r := float64(T) / float64(n)
	var out []float64
	for i := 0; ; i++ {
		v := float64(T) + float64(i)*-r
		if v <= 0 {
			return out
		}
		out = append(out, math.RoundToEven(v)-1)
	}
}
