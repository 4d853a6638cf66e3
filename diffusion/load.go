package diffusion

import (
	"fmt"
	"os"
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
