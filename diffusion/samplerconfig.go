package diffusion

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// SamplerConfig holds the sampler settings of a diffusers scheduler config
// (scheduler_config.json) that the toolkit honours, with diffusers'
// meanings. Sample applies them under its Options: an option set there
// (Options.Spacing, NoClip, Variance) wins; the rest come from here. The
// zero value is diffusers' defaults for every sampler.
type SamplerConfig struct {
	// TimestepSpacing is leading, trailing or linspace (Lin et al., WACV
	// 2024, Table 2); empty: the sampler's default (leading for DDPM and
	// DDIM, linspace for DPM-Solver++ and Euler).
	TimestepSpacing string `json:"timestep_spacing,omitempty"`
	// StepsOffset is added to every timestep under leading spacing, as all
	// four of diffusers' schedulers add it (Stable Diffusion 1.x's configs
	// set 1).
	StepsOffset int `json:"steps_offset,omitempty"`
	// ClipSample, when false, keeps DDPM's and DDIM's x₀ estimates
	// unclipped (Options.NoClip); nil or true clips them to [−1, 1].
	ClipSample *bool `json:"clip_sample,omitempty"`
	// SetAlphaToOne, when false, makes DDIM's last step end at ᾱ_0 rather
	// than at 1 (Stable Diffusion's configs set false).
	SetAlphaToOne *bool `json:"set_alpha_to_one,omitempty"`
	// UseKarrasSigmas lays DPM-Solver++'s and Euler's steps on the noise
	// levels of Karras et al. (NeurIPS 2022, Eq. 5, ρ = 7): DPM-Solver++
	// over the training schedule's whole σ range, its timesteps rounded;
	// Euler over the σ range of its spaced timesteps, its timesteps
	// fractional. DDPM and DDIM have no such steps: asking for them there
	// is an error.
	UseKarrasSigmas bool `json:"use_karras_sigmas,omitempty"`
	// FinalSigmasType is where DPM-Solver++ and Euler end: "zero" (the
	// default: σ = 0, x₀ itself) or "sigma_min" (σ of timestep 0; then
	// DPM-Solver++ keeps its second-order step at the end from 15 steps
	// on, as diffusers does).
	FinalSigmasType string `json:"final_sigmas_type,omitempty"`
	// VarianceType is DDPM's variance, fixed_small or fixed_large
	// (Options.Variance); empty: fixed_small.
	VarianceType string `json:"variance_type,omitempty"`
}

// Final sigma types, as diffusers names them.
const (
	FinalSigmasZero     = "zero"
	FinalSigmasSigmaMin = "sigma_min"
)

// validate reports the first setting the toolkit does not know.
func (c SamplerConfig) validate() error {
	switch {
	case c.TimestepSpacing != "" && !slices.Contains([]string{SpacingLeading, SpacingTrailing, SpacingLinspace}, c.TimestepSpacing):
		return fmt.Errorf("timestep_spacing %q is not one of leading, trailing, linspace", c.TimestepSpacing)
	case c.StepsOffset < 0:
		return fmt.Errorf("steps_offset %d is negative", c.StepsOffset)
	case c.FinalSigmasType != "" && c.FinalSigmasType != FinalSigmasZero && c.FinalSigmasType != FinalSigmasSigmaMin:
		return fmt.Errorf("final_sigmas_type %q is not zero or sigma_min", c.FinalSigmasType)
	case c.VarianceType != "" && c.VarianceType != "fixed_small" && c.VarianceType != "fixed_large":
		return fmt.Errorf("variance_type %q is not supported (fixed_small or fixed_large; learned variances need a model that predicts them)", c.VarianceType)
	}
	return nil
}

// fixedKeys are keys of diffusers' scheduler configs that the toolkit's
// samplers implement at one value only: a config may hold them (or null)
// at that value, and any other value is an error naming the key, never a
// silent change of the trajectory. The values are JSON.
var fixedKeys = map[string]string{
	"thresholding":           "false",
	"solver_order":           "2",
	"algorithm_type":         `"dpmsolver++"`,
	"solver_type":            `"midpoint"`,
	"lower_order_final":      "true",
	"euler_at_final":         "false",
	"use_lu_lambdas":         "false",
	"use_exponential_sigmas": "false",
	"use_beta_sigmas":        "false",
	"lambda_min_clipped":     `"-Infinity"`,
	"timestep_type":          `"discrete"`,
	"interpolation_type":     `"linear"`,
	"sigma_min":              "null",
	"sigma_max":              "null",
	"clip_sample_range":      "1",
	"trained_betas":          "null",
	// Flow-matching settings that diffusers 0.32 and later save with every
	// DPM-Solver and Euler config, at their off values.
	"use_flow_sigmas":      "false",
	"flow_shift":           "1",
	"use_dynamic_shifting": "false",
	"time_shift_type":      `"exponential"`,
}

// inertKeys are keys that change nothing in the toolkit's samplers, as in
// diffusers' for these settings: dynamic thresholding's parameters (with
// thresholding off, which fixedKeys requires) and PNDM's skip_prk_steps
// (Stable Diffusion 1.x's configs carry it; diffusers' DDIM, DPM-Solver++
// and Euler ignore it when loading such a config, as the toolkit does).
var inertKeys = map[string]bool{"dynamic_thresholding_ratio": true, "sample_max_value": true, "skip_prk_steps": true}

// checkFixed reports a fixed key whose value is not the one the toolkit
// implements.
func checkFixed(k string, v json.RawMessage) error {
	want := fixedKeys[k]
	got := bytes.TrimSpace(v)
	if string(got) == "null" || string(got) == want {
		return nil
	}
	var a, b any
	if json.Unmarshal(got, &a) == nil && json.Unmarshal([]byte(want), &b) == nil {
		if x, ok := a.(float64); ok {
			if y, ok := b.(float64); ok && x == y {
				return nil
			}
		}
	}
	return fmt.Errorf("%s is %s; the toolkit's samplers implement %s only", k, got, want)
}

// jsonNonFinite rewrites the bare NaN, Infinity and -Infinity that
// Python's json module writes (diffusers' DPM-Solver configs hold
// "lambda_min_clipped": -Infinity) as strings, so that the file parses as
// JSON; text inside strings is left alone.
func jsonNonFinite(b []byte) []byte {
	var out []byte
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if in {
			out = append(out, c)
			switch c {
			case '\\':
				if i+1 < len(b) {
					i++
					out = append(out, b[i])
				}
			case '"':
				in = false
			}
			continue
		}
		if c == '"' {
			in = true
		}
		matched := false
		for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
			if bytes.HasPrefix(b[i:], []byte(tok)) {
				out = append(out, '"')
				out = append(out, tok...)
				out = append(out, '"')
				i += len(tok) - 1
				matched = true
				break
			}
		}
		if !matched {
			out = append(out, c)
		}
	}
	return out
}

// karrasKind says how a sampler lays Karras sigmas (SamplerConfig's
// UseKarrasSigmas): not at all, as DPM-Solver++ does, or as Euler does.
type karrasKind int

const (
	karrasNone karrasKind = iota
	karrasDPM
	karrasEuler
)

// karras returns Karras et al.'s n noise levels from σmax down to σmin,
// (σmax^(1/ρ) + i/(n−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ with ρ = 7.
func karras(sigmaMin, sigmaMax float64, n int) []float64 {
	const rho = 7.0
	lo, hi := math.Pow(sigmaMin, 1/rho), math.Pow(sigmaMax, 1/rho)
	out := make([]float64, n)
	for i := range out {
		ramp := 0.0
		if n > 1 {
			ramp = float64(i) / float64(n-1)
		}
		out[i] = math.Pow(hi+ramp*(lo-hi), rho)
	}
	return out
}

// sigmaToT returns the fractional timestep whose σ is sigma, interpolating
// log σ linearly between the training timesteps, as diffusers' _sigma_to_t.
func (s *Schedule) sigmaToT(sigma float64, logSig []float64) float64 {
	ls := math.Log(math.Max(sigma, 1e-10))
	// numpy's cumsum(dists >= 0).argmax(): the last timestep whose log σ
	// is at most ls (0 when none is), kept below the end.
	low := 0
	for i, v := range logSig {
		if ls-v >= 0 {
			low = i
		}
	}
	low = min(low, len(logSig)-2)
	high := low + 1
	w := (logSig[low] - ls) / (logSig[low] - logSig[high])
	w = math.Max(0, math.Min(1, w))
	return (1-w)*float64(low) + w*float64(high)
}

// logSigmas returns log σ(t) of every training timestep (sigmaOf).
func (s *Schedule) logSigmas() []float64 {
	out := make([]float64, len(s.AlphasCumprod))
	for i := range s.AlphasCumprod {
		out[i] = math.Log(s.sigmaOf(i))
	}
	return out
}

// sigmasFor returns the σ of every step of a σ-space sampler (and the
// final one) and the timesteps it visits, from the spaced timesteps ts:
// Karras sigmas when the config asks for them, the final σ of its
// FinalSigmasType.
func (s *Schedule) sigmasFor(ts []float64, kind karrasKind) (sig, steps []float64) {
	c := s.Config.SamplerConfig
	sig, steps = s.sigmasAt(ts), ts
	if c.UseKarrasSigmas && kind != karrasNone {
		n := len(ts)
		logSig := s.logSigmas()
		var ks []float64
		if kind == karrasDPM {
			// The whole training range.
			ks = karras(math.Exp(logSig[0]), math.Exp(logSig[len(logSig)-1]), n)
		} else {
			// The range of the spaced steps' interpolated σ (in float64).
			lo, hi := s.interpSigma(ts[n-1]), s.interpSigma(ts[0])
			ks = karras(lo, hi, n)
		}
		steps = make([]float64, n)
		sig = make([]float64, n+1)
		for i, v := range ks {
			t := s.sigmaToT(v, logSig)
			if kind == karrasDPM {
				// diffusers rounds, except for the cosine schedule, whose
				// fractional timesteps its int64 cast truncates.
				if s.Config.BetaSchedule == "squaredcos_cap_v2" {
					t = math.Trunc(t)
				} else {
					t = math.RoundToEven(t)
				}
			} else {
				t = float64(float32(t))
			}
			steps[i], sig[i] = t, float64(float32(v))
		}
	}
	if c.FinalSigmasType == FinalSigmasSigmaMin {
		a := s.AlphasCumprod[0]
		sig[len(sig)-1] = float64(float32(math.Sqrt((1 - a) / a)))
	}
	return sig, steps
}

// interpSigma returns σ at a fractional timestep by linear interpolation
// of the training σ, in float64 (numpy.interp).
func (s *Schedule) interpSigma(t float64) float64 {
	sigAt := s.sigmaOf
	lo := max(0, min(int(math.Floor(t)), len(s.AlphasCumprod)-1))
	hi := min(lo+1, len(s.AlphasCumprod)-1)
	f := t - float64(lo)
	return sigAt(lo) + f*(sigAt(hi)-sigAt(lo))
}

// under returns o with the settings it leaves unset taken from the model's
// scheduler config c, then from the sampler's defaults.
func (o Options) under(c SamplerConfig, smp Sampler) Options {
	if o.Spacing == "" {
		o.Spacing = c.TimestepSpacing
	}
	if o.Spacing == "" {
		o.Spacing = smp.Spacing
	}
	if c.ClipSample != nil && !*c.ClipSample {
		o.NoClip = true
	}
	if o.Variance == "" {
		o.Variance = c.VarianceType
	}
	return o
}

// steps returns the timesteps of a run of sampler smp with options o (as
// under resolved them) and the σ of each and of the end: the sampler's
// spaced timesteps, steps_offset added under leading spacing, then Karras
// sigmas and the final σ where the config asks for them. A setting the
// sampler cannot honour, and a timestep outside the schedule, are errors
// naming the key.
func (s *Schedule) steps(smp Sampler, o Options) (ts, sig []float64, err error) {
	c := s.Config.SamplerConfig
	if ts, err = smp.Timesteps(o.Steps, s.T(), o.Spacing); err != nil {
		return nil, nil, err
	}
	if c.StepsOffset != 0 && o.Spacing == SpacingLeading {
		ts = slices.Clone(ts)
		for i := range ts {
			ts[i] += float64(c.StepsOffset)
		}
	}
	if smp.karras == karrasNone {
		switch {
		case c.UseKarrasSigmas:
			return nil, nil, fmt.Errorf("the model's scheduler config sets use_karras_sigmas, which sampler %s does not have (dpmpp2m and euler do)", smp.Name)
		case c.FinalSigmasType == FinalSigmasSigmaMin:
			return nil, nil, fmt.Errorf("the model's scheduler config sets final_sigmas_type sigma_min, which sampler %s does not have (dpmpp2m and euler do)", smp.Name)
		}
	}
	sig, ts = s.sigmasFor(ts, smp.karras)
	for _, t := range ts { // the steps the model sees
		if t < 0 || t > float64(s.T()-1) {
			return nil, nil, fmt.Errorf("%d %s steps reach timestep %g, outside the schedule's 0 to %d (steps_offset %d)", o.Steps, o.Spacing, t, s.T()-1, c.StepsOffset)
		}
	}
	return ts, sig, nil
}
