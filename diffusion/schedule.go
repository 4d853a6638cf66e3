package diffusion

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/unet"
)

// ScheduleConfig describes a noise schedule and the model's prediction type
// with the keys and defaults of diffusers' schedulers (scheduler_config.json).
type ScheduleConfig struct {
	NumTrainTimesteps   int     `json:"num_train_timesteps"`
	BetaStart           float64 `json:"beta_start"`
	BetaEnd             float64 `json:"beta_end"`
	BetaSchedule        string  `json:"beta_schedule"`
	RescaleBetasZeroSNR bool    `json:"rescale_betas_zero_snr"`
	PredictionType      string  `json:"prediction_type"`

	// SamplerConfig holds the sampler settings the file may carry
	// (timestep_spacing, steps_offset, …), honoured by Sample; written
	// only where set.
	SamplerConfig
}

// Prediction types, with diffusers' names.
const (
	PredictEpsilon = "epsilon"      // the noise ε (Ho et al. 2020)
	PredictSample  = "sample"       // the clean sample x₀
	PredictV       = "v_prediction" // v = √ᾱ·ε − √(1−ᾱ)·x₀ (Salimans & Ho 2022)
)

// DefaultScheduleConfig returns diffusers' defaults: 1000 steps, linear betas
// from 1e-4 to 0.02 (Ho et al. 2020), ε-prediction.
func DefaultScheduleConfig() ScheduleConfig {
	return ScheduleConfig{NumTrainTimesteps: 1000, BetaStart: 1e-4, BetaEnd: 0.02, BetaSchedule: "linear", PredictionType: PredictEpsilon}
}

// Schedule is a discrete-time variance-preserving noise schedule,
// x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, with its coefficients precomputed once in
// float64. It holds no model.
type Schedule struct {
	Config        ScheduleConfig
	Betas         []float64
	AlphasCumprod []float64 // ᾱ_t
	SNR           []float64 // ᾱ_t / (1 − ᾱ_t)
}

// NewSchedule computes a schedule. Betas are built as diffusers builds them
// (in float32, so that coefficients match it to float32 precision):
//   - "linear": evenly spaced from BetaStart to BetaEnd (Ho et al. 2020);
//   - "scaled_linear": the square of evenly spaced square roots (Stable
//     Diffusion);
//   - "squaredcos_cap_v2": from ᾱ(t) = cos²((t+0.008)/1.008·π/2), betas capped
//     at 0.999 (Nichol & Dhariwal 2021);
//   - "sigmoid": sigmoid of evenly spaced values in [−6, 6], scaled into
//     [BetaStart, BetaEnd] (GeoDiff, Xu et al. 2022).
//
// RescaleBetasZeroSNR rescales them to a zero terminal SNR (Lin et al.,
// "Common Diffusion Noise Schedules and Sample Steps Are Flawed", 2024).
func NewSchedule(c ScheduleConfig) (*Schedule, error) {
	T := c.NumTrainTimesteps
	if T < 2 {
		return nil, fmt.Errorf("schedule: num_train_timesteps %d must be at least 2", T)
	}
	// The betas in float32 twice over, and three tables of float64.
	if err := sysmem.Check(float64(T)*(2*4+3*8), fmt.Sprintf("schedule: num_train_timesteps %d", T)); err != nil {
		return nil, err
	}
	if err := c.SamplerConfig.validate(); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	switch c.PredictionType {
	case PredictEpsilon, PredictSample, PredictV:
	default:
		return nil, fmt.Errorf("schedule: prediction_type %q is not one of epsilon, sample, v_prediction", c.PredictionType)
	}
	betas := make([]float32, T)
	lin := func(a, b float32) []float32 {
		// torch.linspace in float32: start + i·step, the second half counted
		// back from the end, as PyTorch does.
		out := make([]float32, T)
		step := (b - a) / float32(T-1)
		half := T / 2
		for i := range out {
			if i < half {
				out[i] = a + step*float32(i)
			} else {
				out[i] = b - step*float32(T-1-i)
			}
		}
		return out
	}
	switch c.BetaSchedule {
	case "linear":
		betas = lin(float32(c.BetaStart), float32(c.BetaEnd))
	case "scaled_linear":
		for i, v := range lin(float32(math.Sqrt(c.BetaStart)), float32(math.Sqrt(c.BetaEnd))) {
			betas[i] = v * v
		}
	case "squaredcos_cap_v2":
		ab := func(t float64) float64 { return math.Pow(math.Cos((t+0.008)/1.008*math.Pi/2), 2) }
		for i := range betas {
			betas[i] = float32(math.Min(1-ab(float64(i+1)/float64(T))/ab(float64(i)/float64(T)), 0.999))
		}
	case "sigmoid":
		for i, v := range lin(-6, 6) {
			s := float32(1 / (1 + math.Exp(-float64(v))))
			betas[i] = s*float32(c.BetaEnd-c.BetaStart) + float32(c.BetaStart)
		}
	default:
		return nil, fmt.Errorf("schedule: beta_schedule %q is not one of linear, scaled_linear, squaredcos_cap_v2, sigmoid", c.BetaSchedule)
	}
	if c.RescaleBetasZeroSNR {
		betas = rescaleZeroSNR(betas)
	}
	s := &Schedule{Config: c, Betas: make([]float64, T), AlphasCumprod: make([]float64, T), SNR: make([]float64, T)}
	acp := 1.0
	for i, b := range betas {
		if b <= 0 || b > 1 || math.IsNaN(float64(b)) {
			return nil, fmt.Errorf("schedule: beta %d is %g, outside (0, 1]", i, b)
		}
		s.Betas[i] = float64(b)
		acp *= 1 - float64(b)
		s.AlphasCumprod[i] = acp
		s.SNR[i] = acp / (1 - acp)
	}
	return s, nil
}

// rescaleZeroSNR shifts and scales √ᾱ so that it ends at 0 and keeps its
// first value, in float32 as diffusers does.
func rescaleZeroSNR(betas []float32) []float32 {
	n := len(betas)
	sq := make([]float32, n)
	acp := 1.0 // torch.cumprod accumulates in float64, then rounds
	for i, b := range betas {
		acp *= float64(1 - b)
		sq[i] = float32(math.Sqrt(float64(float32(acp))))
	}
	s0, sT := sq[0], sq[n-1]
	for i := range sq {
		sq[i] -= sT
		sq[i] *= s0 / (s0 - sT)
	}
	out := make([]float32, n)
	prev := float32(1)
	for i, v := range sq {
		ab := v * v
		if i == 0 {
			out[0] = 1 - ab
		} else {
			out[i] = 1 - ab/prev
		}
		prev = ab
	}
	return out
}

// T returns the number of training timesteps.
func (s *Schedule) T() int { return len(s.Betas) }

// AlphaSigma returns √ᾱ_t and √(1−ᾱ_t) of integer timestep t.
func (s *Schedule) AlphaSigma(t int) (float64, float64) {
	a := s.AlphasCumprod[t]
	return math.Sqrt(a), math.Sqrt(1 - a)
}

// AddNoise writes x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε into dst (q(x_t | x₀)).
func (s *Schedule) AddNoise(dst, x0, eps []float32, t int) {
	a, sg := s.AlphaSigma(t)
	af, sf := float32(a), float32(sg)
	for i := range dst {
		dst[i] = af*x0[i] + sf*eps[i]
	}
}

// Target writes the regression target of the prediction type for a sample
// x₀ noised with ε at timestep t: ε, x₀, or v = √ᾱ·ε − √(1−ᾱ)·x₀.
func (s *Schedule) Target(dst, x0, eps []float32, t int) {
	switch s.Config.PredictionType {
	case PredictEpsilon:
		copy(dst, eps)
	case PredictSample:
		copy(dst, x0)
	case PredictV:
		a, sg := s.AlphaSigma(t)
		af, sf := float32(a), float32(sg)
		for i := range dst {
			dst[i] = af*eps[i] - sf*x0[i]
		}
	}
}

// MinSNRWeight is the loss weight of timestep t under min-SNR-γ weighting
// (Hang et al., "Efficient Diffusion Training via Min-SNR Weighting
// Strategy", ICCV 2023): min(SNR, γ)/SNR for ε-prediction, min(SNR, γ)/(SNR+1)
// for v-prediction and min(SNR, γ) for x₀-prediction. γ ≤ 0 gives weight 1.
func (s *Schedule) MinSNRWeight(t int, gamma float64) float64 {
	if gamma <= 0 {
		return 1
	}
	snr := s.SNR[t]
	m := math.Min(snr, gamma)
	switch s.Config.PredictionType {
	case PredictEpsilon:
		if snr <= gamma {
			return 1 // min(SNR, γ)/SNR, also where SNR is 0
		}
		return m / snr
	case PredictV:
		return m / (snr + 1)
	}
	return m
}

// toX0 converts a model output to the predicted x₀ for x = a·x₀ + σ·ε.
func toX0(pred string, out, x, a, sigma float64) float64 {
	switch pred {
	case PredictEpsilon:
		return (x - sigma*out) / a
	case PredictSample:
		return out
	}
	return a*x - sigma*out
}

// toEps converts a model output to the predicted ε for x = a·x₀ + σ·ε.
func toEps(pred string, out, x, a, sigma float64) float64 {
	switch pred {
	case PredictEpsilon:
		return out
	case PredictSample:
		return (x - a*out) / sigma
	}
	return a*out + sigma*x
}

// ScheduleFile is the name of a model directory's noise-schedule config, as
// in diffusers pipelines.
const ScheduleFile = "scheduler_config.json"

// PipelineScheduler is the subdirectory of a diffusers pipeline that holds
// its scheduler_config.json.
const PipelineScheduler = "scheduler"

// SaveScheduleConfig writes c to dir/scheduler_config.json.
func SaveScheduleConfig(dir string, c ScheduleConfig) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(filepath.Join(dir, ScheduleFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// ErrNoScheduleConfig is wrapped by LoadScheduleConfig's error when a model
// directory has no scheduler_config.json.
var ErrNoScheduleConfig = errors.New("no " + ScheduleFile)

// LoadScheduleConfig reads dir/scheduler_config.json (or, in a diffusers
// pipeline, dir/scheduler/scheduler_config.json): the noise schedule and
// the prediction type the model was trained with. The file is required:
// sampling with another schedule than the training's gives wrong samples
// without any error (a v-prediction model sampled as an ε one is off by
// hundreds), so a missing file is an error wrapping ErrNoScheduleConfig that
// says how to write one. Keys missing from the file take diffusers'
// defaults. Keys starting with "_" are metadata. diffusers' sampler
// settings are honoured (SamplerConfig), or accepted at the one value the
// toolkit's samplers implement (fixedKeys: thresholding false, solver_order
// 2, …; another value is an error naming the key), or change nothing here
// as in diffusers (inertKeys); any other key is an error naming it, as in
// config.json, and so is a malformed file or an invalid schedule. Python's
// bare NaN, Infinity and -Infinity are read.
func LoadScheduleConfig(dir string) (ScheduleConfig, error) {
	c := DefaultScheduleConfig()
	if unet.Dir(dir) != dir {
		dir = filepath.Join(dir, PipelineScheduler) // a diffusers pipeline
	}
	path := filepath.Join(dir, ScheduleFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		def, _ := json.Marshal(c)
		return c, fmt.Errorf("model directory %s: %w (the noise schedule and prediction type the model was trained with; sampling with another gives wrong samples without an error): write one, for diffusers' defaults %s", dir, ErrNoScheduleConfig, def)
	}
	if err != nil {
		return c, err
	}
	b = jsonNonFinite(b)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return c, fmt.Errorf("%s: not a JSON object: %w", path, err)
	}
	known := map[string]bool{}
	for _, k := range []string{"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "rescale_betas_zero_snr", "prediction_type",
		"timestep_spacing", "steps_offset", "clip_sample", "set_alpha_to_one", "use_karras_sigmas", "final_sigmas_type", "variance_type"} {
		known[k] = true
	}
	var unknown []string
	keys := slices.Sorted(maps.Keys(raw))
	for _, k := range keys {
		v := raw[k]
		switch {
		case k == "trained_betas" && string(bytes.TrimSpace(v)) != "null":
			return c, fmt.Errorf("%s: trained_betas is not supported (give beta_schedule, beta_start and beta_end)", path)
		case fixedKeys[k] != "":
			if err := checkFixed(k, v); err != nil {
				return c, fmt.Errorf("%s: %w", path, err)
			}
		case known[k] || inertKeys[k] || strings.HasPrefix(k, "_"):
			if string(bytes.TrimSpace(v)) == "null" {
				delete(raw, k) // null: the default
			}
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return c, fmt.Errorf("%s: unknown key %q (%d unknown in all; the toolkit refuses what it would not honour)", path, unknown[0], len(unknown))
	}
	clean, _ := json.Marshal(raw)
	if err := json.Unmarshal(clean, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := NewSchedule(c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
