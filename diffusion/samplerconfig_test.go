package diffusion

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchedulerConfigKeys: the sampler keys of a diffusers scheduler config
// (steps_offset, set_alpha_to_one, clip_sample, use_karras_sigmas,
// final_sigmas_type) change the timesteps and the whole trajectory as in
// the reference written from diffusers' schedulers
// (scripts/reference/schedulers.py), with the toy denoiser and the
// fixture's noise.
func TestSchedulerConfigKeys(t *testing.T) {
	f := fixture(t)
	init := f["traj.init"]
	no := false
	for _, n := range []int{20, 8} {
		noise := f[fmt.Sprintf("traj.noise.%d", n)]
		for _, tc := range []struct {
			name    string
			sampler string
			spacing string
			c       SamplerConfig
			beta    string // the beta schedule, when not linear
		}{
			{"ddpm_offset", "ddpm", "", SamplerConfig{StepsOffset: 1}, ""},
			{"ddim_offset_noone", "ddim", "", SamplerConfig{StepsOffset: 1, SetAlphaToOne: &no}, ""},
			{"ddim_noclip", "ddim", "", SamplerConfig{ClipSample: &no}, ""},
			{"dpmpp2m_karras", "dpmpp2m", "", SamplerConfig{UseKarrasSigmas: true}, ""},
			{"dpmpp2m_sigmamin", "dpmpp2m", "", SamplerConfig{FinalSigmasType: FinalSigmasSigmaMin}, ""},
			{"dpmpp2m_karras_sigmamin", "dpmpp2m", "", SamplerConfig{UseKarrasSigmas: true, FinalSigmasType: FinalSigmasSigmaMin}, ""},
			{"dpmpp2m_leading_offset", "dpmpp2m", "", SamplerConfig{TimestepSpacing: SpacingLeading, StepsOffset: 1}, ""},
			{"euler_karras", "euler", "", SamplerConfig{UseKarrasSigmas: true}, ""},
			{"euler_sigmamin", "euler", "", SamplerConfig{FinalSigmasType: FinalSigmasSigmaMin}, ""},
			// The spacing from Options, the rest from the config.
			{"euler_leading_offset_karras", "euler", SpacingLeading, SamplerConfig{StepsOffset: 1, UseKarrasSigmas: true}, ""},
			// The cosine schedule's Karras timesteps are truncated, not rounded.
			{"dpmpp2m_karras_cosine", "dpmpp2m", "", SamplerConfig{UseKarrasSigmas: true}, "squaredcos_cap_v2"},
		} {
			c := DefaultScheduleConfig()
			c.SamplerConfig = tc.c
			if tc.beta != "" {
				c.BetaSchedule = tc.beta
			}
			s, err := NewSchedule(c)
			if err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("cfg.%s.%d", tc.name, n)
			wantTS, want := f[key+".ts"].F64, f[key+".traj"].F64
			per := 9
			o := Options{Sampler: tc.sampler, Steps: n, Spacing: tc.spacing}
			o.noise = func(step, sample int, dst []float32) {
				src := init.F64[sample*per:]
				if step >= 0 {
					src = noise.F64[(step*2+sample)*per:]
				}
				for i := range dst {
					dst[i] = float32(src[i])
				}
			}
			var ts []float64
			o.Hook = func(info StepInfo) error { ts = append(ts, info.T); return nil }
			got, err := Sample(toy{}, s, []int{2, 1, 3, 3}, o)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			if len(ts) != len(wantTS) {
				t.Fatalf("%s: %d timesteps, want %d", key, len(ts), len(wantTS))
			}
			for i := range ts {
				if math.Abs(ts[i]-wantTS[i]) > 1e-4 {
					t.Fatalf("%s: timesteps %v, want %v", key, ts, wantTS)
				}
			}
			final := want[n*2*per:]
			for i, v := range got.Data().([]float32) {
				if math.Abs(float64(v)-final[i]) > 2e-4*(1+math.Abs(final[i])) {
					t.Fatalf("%s: x[%d] = %.7g, want %.7g", key, i, v, final[i])
				}
			}
			// Each key matters: the default config gives another result.
			pc := DefaultScheduleConfig()
			pc.BetaSchedule = c.BetaSchedule
			plain, _ := NewSchedule(pc)
			o.Hook = nil
			other, err := Sample(toy{}, plain, []int{2, 1, 3, 3}, o)
			if err != nil {
				t.Fatal(err)
			}
			same := true
			for i, v := range other.Data().([]float32) {
				same = same && v == got.Data().([]float32)[i]
			}
			if same {
				t.Errorf("%s: the config's keys changed nothing", key)
			}
		}
	}
}

// TestSchedulerConfigFile: scheduler_config.json files as diffusers writes
// them load with their sampler keys honoured (Python's -Infinity read);
// keys at a value the samplers do not implement, keys a sampler cannot
// honour, and unknown keys are errors naming them.
func TestSchedulerConfigFile(t *testing.T) {
	write := func(body string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ScheduleFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// Stable Diffusion 1.5's scheduler (PNDM) as diffusers saves it, and a
	// DPM-Solver++ config with Python's -Infinity.
	sd := write(`{"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
		"beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
		"trained_betas": null, "clip_sample": false}`)
	c, err := LoadScheduleConfig(sd)
	if err != nil {
		t.Fatal(err)
	}
	if c.StepsOffset != 1 || c.SetAlphaToOne == nil || *c.SetAlphaToOne || c.ClipSample == nil || *c.ClipSample || c.BetaSchedule != "scaled_linear" {
		t.Errorf("SD 1.5 config read as %+v", c)
	}
	dpm := write(`{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver++", "beta_end": 0.02, "beta_schedule": "linear",
		"beta_start": 0.0001, "dynamic_thresholding_ratio": 0.995, "euler_at_final": false, "final_sigmas_type": "zero",
		"lambda_min_clipped": -Infinity, "lower_order_final": true, "num_train_timesteps": 1000, "prediction_type": "epsilon",
		"sample_max_value": 1.0, "solver_order": 2, "solver_type": "midpoint", "steps_offset": 0, "thresholding": false,
		"timestep_spacing": "trailing", "use_karras_sigmas": true, "use_lu_lambdas": false, "variance_type": null,
		"use_flow_sigmas": false, "flow_shift": 1.0, "use_dynamic_shifting": false, "time_shift_type": "exponential", "note": "NaN is fine in a string"}`)
	if _, err := LoadScheduleConfig(dpm); err == nil || !strings.Contains(err.Error(), `unknown key "note"`) {
		t.Errorf("unknown key: %v", err)
	}
	dpm = write(strings.Replace(mustRead(t, filepath.Join(dpm, ScheduleFile)), `, "note": "NaN is fine in a string"`, "", 1))
	c, err = LoadScheduleConfig(dpm)
	if err != nil {
		t.Fatal(err)
	}
	if !c.UseKarrasSigmas || c.TimestepSpacing != SpacingTrailing || c.FinalSigmasType != FinalSigmasZero {
		t.Errorf("DPM config read as %+v", c)
	}
	s, _ := NewSchedule(c)
	if _, err := Sample(toy{}, s, []int{1, 1, 2, 2}, Options{Sampler: "ddim", Steps: 4}); err == nil || !strings.Contains(err.Error(), "use_karras_sigmas") {
		t.Errorf("DDIM under Karras sigmas: %v", err)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"thresholding": true}`, "thresholding is true"},
		{`{"solver_order": 3}`, "solver_order is 3"},
		{`{"algorithm_type": "sde-dpmsolver++"}`, "algorithm_type"},
		{`{"use_exponential_sigmas": true}`, "use_exponential_sigmas"},
		{`{"lambda_min_clipped": -5.1}`, "lambda_min_clipped"},
		{`{"sigma_max": 80}`, "sigma_max"},
		{`{"timestep_spacing": "uniform"}`, "timestep_spacing"},
		{`{"final_sigmas_type": "denoise_to_zero"}`, "final_sigmas_type"},
		{`{"variance_type": "learned_range"}`, "variance_type"},
		{`{"steps_offset": -1}`, "steps_offset"},
		{`{"shift": 3.0}`, `unknown key "shift"`},
		{`{"use_flow_sigmas": true}`, "use_flow_sigmas"},
	} {
		if _, err := LoadScheduleConfig(write(bad.body)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error naming %q", bad.body, err, bad.want)
		}
	}
	// A step count whose offset timesteps leave the schedule.
	c = DefaultScheduleConfig()
	c.StepsOffset = 1
	s, _ = NewSchedule(c)
	if _, err := Sample(toy{}, s, []int{1, 1, 2, 2}, Options{Sampler: "ddim", Steps: 1000}); err == nil || !strings.Contains(err.Error(), "steps_offset 1") {
		t.Errorf("offset past the schedule: %v", err)
	}
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
