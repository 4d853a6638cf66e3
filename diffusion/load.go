package diffusion

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// LoadModel reads a model directory and its noise schedule, from
// scheduler_config.json, which must be there (LoadScheduleConfig).
func LoadModel(dir string) (*unet.Model, *Schedule, error) {
	m, err := unet.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	c, err := LoadScheduleConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	s, err := NewSchedule(c)
	if err != nil {
		return nil, nil, err
	}
	return m, s, nil
}

// LoadText reads the text encoder of a model directory (in text_encoder/,
// with its vocabulary) when the model is a UNet2DConditionModel, and checks
// that its width is the U-Net's cross_attention_dim; other models get nil.
func LoadText(dir string, m *unet.Model) (*textenc.Prompter, error) {
	if !m.Config.Conditional() {
		return nil, nil
	}
	td := textenc.ModelDir(dir)
	if _, err := os.Stat(td); err != nil {
		return nil, fmt.Errorf("model %s is a %s but has no text encoder in %s", dir, unet.ClassUNet2DCondition, td)
	}
	p, err := textenc.LoadPrompter(td)
	if err != nil {
		return nil, err
	}
	if err := CheckText(m.Config, p); err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	return p, nil
}

// Prompts repeats prompts to n rows, in turn.
func Prompts(prompts []string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prompts[i%len(prompts)]
	}
	return out
}

// ParseLabels turns a label specification into n class labels for a model
// with num_class_embeds k (classes 0..k−2, k−1 being the null class):
// "cycle" repeats 0, 1, …, k−2; "N" gives class N to all; "a,b,c" repeats
// that list. An unconditional model (k = 0) takes "" or "none" and gets nil.
func ParseLabels(spec string, n, k int) ([]int64, error) {
	if k == 0 {
		if spec != "" && spec != "none" {
			return nil, fmt.Errorf("labels %q given for an unconditional model", spec)
		}
		return nil, nil
	}
	if spec == "" || spec == "none" {
		return nil, fmt.Errorf("the model is class-conditional: give labels (cycle, a class, or a list)")
	}
	if n <= 0 {
		return nil, fmt.Errorf("labels for %d samples: want a positive number", n)
	}
	if k < 2 {
		return nil, fmt.Errorf("num_class_embeds %d leaves no class besides the null class", k)
	}
	var list []int64
	if spec == "cycle" {
		for c := 0; c < k-1; c++ {
			list = append(list, int64(c))
		}
	} else {
		for _, f := range strings.Split(spec, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || v < 0 || v >= k {
				return nil, fmt.Errorf("label %q is not a class in [0,%d)", f, k)
			}
			list = append(list, int64(v))
		}
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = list[i%len(list)]
	}
	return out, nil
}

// SamplingDefaultsFile, in a model directory, gives the guidance scale and
// steps the model is meant to be sampled at, and how they were chosen (on
// a validation split, so that the test split measures them once).
const SamplingDefaultsFile = "sampling_defaults.json"

// SamplingDefaults is the content of SamplingDefaultsFile.
type SamplingDefaults struct {
	// Guidance is the classifier-free guidance scale (1: none).
	Guidance float64 `json:"guidance"`
	// Steps, when not 0, is the number of sampling steps.
	Steps int `json:"steps,omitempty"`
	// ChosenBy says how the settings were chosen: the command and the rule.
	ChosenBy string `json:"chosen_by"`
}

// LoadSamplingDefaults reads a model directory's SamplingDefaultsFile:
// nil when there is none; an unknown key, a guidance that is not a finite
// number of at least 1, or negative steps is an error naming the file.
func LoadSamplingDefaults(dir string) (*SamplingDefaults, error) {
	path := filepath.Join(unet.Dir(dir), SamplingDefaultsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d SamplingDefaults
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !(d.Guidance >= 1) || math.IsInf(d.Guidance, 0) || d.Steps < 0 {
		return nil, fmt.Errorf("%s: guidance %g and steps %d: want a finite guidance of at least 1 (1: none) and steps ≥ 0", path, d.Guidance, d.Steps)
	}
	return &d, nil
}
