package diffusion

import (
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// EMAModel returns the model with the EMA weights (which sampling uses). It
// shares the EMA's tensors, so it follows later updates.
func (tr *Trainer) EMAModel() (*unet.Model, error) {
	if tr.emaModel == nil {
		p, err := tr.EMA.Shadow.Select(tr.Model.Params)
		if err != nil {
			return nil, err
		}
		m, err := tr.Model.WithParams(p)
		if err != nil {
			return nil, err
		}
		tr.emaModel = m
	}
	return tr.emaModel, nil
}

// EMAText returns the text encoder with the EMA weights, nil without one.
// Its weights are the EMA's, but it caches embeddings: call Forget after
// training on.
func (tr *Trainer) EMAText() (*textenc.Prompter, error) {
	if tr.Text == nil {
		return nil, nil
	}
	if tr.teacher != nil {
		return tr.Text, nil // frozen in a guidance distillation
	}
	if tr.emaText == nil {
		p, err := tr.EMA.Shadow.Select(tr.Text.Encoder.Params)
		if err != nil {
			return nil, err
		}
		enc, err := tr.Text.Encoder.WithParams(p)
		if err != nil {
			return nil, err
		}
		if tr.emaText, err = textenc.NewPrompter(enc, tr.Text.Tokenizer); err != nil {
			return nil, err
		}
		tr.emaText.Clauses = tr.Text.Clauses
	}
	tr.emaText.Forget()
	return tr.emaText, nil
}

// ExportEMA writes the EMA weights as a model directory, with the noise
// schedule in scheduler_config.json beside config.json and the text
// encoder, with its vocabulary, in text_encoder/.
func (tr *Trainer) ExportEMA(dir string) error {
	m, err := tr.EMAModel()
	if err != nil {
		return err
	}
	if err := m.Save(dir); err != nil {
		return err
	}
	if tr.Text != nil {
		t, err := tr.EMAText()
		if err != nil {
			return err
		}
		if err := t.Save(textenc.ModelDir(dir)); err != nil {
			return err
		}
	}
	if g := tr.Config.Guidance; g != nil {
		if err := saveGuidanceInfo(dir, *g); err != nil {
			return err
		}
	}
	return SaveScheduleConfig(dir, tr.Config.Schedule)
}

// GridSamples draws a grid's samples from the EMA weights with 20
// DPM-Solver++ steps and seed 1: for a class-conditional model one row per
// class, eight samples each, with guidance scale 2; for a text-conditioned
// one a row for each of the data's first eight captions, with guidance
// scale 2; for an editor a row for each of the data's first eight pairs:
// the source, the true edit and six edits with two-scale guidance at
// diffusers' defaults (7.5 and 1.5); else 64 samples. It returns them with the number of columns.
func (tr *Trainer) GridSamples() (*tensor.Dense, int, error) {
	m, err := tr.EMAModel()
	if err != nil {
		return nil, 0, err
	}
	if tr.Data.Inputs != nil {
		return tr.editGrid(m)
	}
	ch, h, w := tr.Data.Shape()
	var d Denoiser = &ModelDenoiser{Model: m}
	n, cols := 64, 8
	var labels []int64
	if tr.null >= 0 {
		n = 8 * tr.Data.Classes
		for i := 0; i < n; i++ {
			labels = append(labels, int64(i/8))
		}
		d = &Guided{D: d, G: Guidance{Scale: 2, Null: Labels([]int64{tr.null})}}
	}
	cond := Labels(labels)
	if tr.Text != nil {
		// The first eight captions of the data, eight samples each.
		text, err := tr.EMAText()
		if err != nil {
			return nil, 0, err
		}
		prompts := make([]string, n)
		for i := range prompts {
			prompts[i] = tr.Data.Captions[(i/8)%tr.Data.Len()]
		}
		if cond, err = PromptCond(text, prompts); err != nil {
			return nil, 0, err
		}
		null, err := PromptCond(text, []string{""})
		if err != nil {
			return nil, 0, err
		}
		d = &Guided{D: d, G: Guidance{Scale: 2, Null: null}}
	}
	// Batches of 20 bound the memory the grid needs (guidance doubles them).
	x, err := SampleMany(d, tr.Schedule, []int{ch, h, w}, n, 20, Options{Sampler: "dpmpp2m", Steps: 20, Seed: 1, Cond: cond}, nil)
	if err != nil {
		return nil, 0, err
	}
	return x, cols, nil
}

// editGrid draws GridSamples' grid of an editor m.
func (tr *Trainer) editGrid(m *unet.Model) (*tensor.Dense, int, error) {
	const rows, edits, cols = 8, 6, 8
	ch, h, w := tr.Data.Shape()
	per := ch * h * w
	k := min(rows, tr.Data.Len())
	text, err := tr.EMAText()
	if err != nil {
		return nil, 0, err
	}
	n := k * edits
	prompts := make([]string, n)
	src := make([]float32, n*per)
	for i := range n {
		prompts[i] = tr.Data.Captions[i/edits]
		tr.Data.Inputs.Image(i/edits, src[i*per:(i+1)*per])
	}
	cond, err := PromptCond(text, prompts)
	if err != nil {
		return nil, 0, err
	}
	cond.Image = tensor.New(tensor.WithShape(n, ch, h, w), tensor.WithBacking(src))
	cond.Pooled = nil
	var d Denoiser = &ModelDenoiser{Model: m}
	if tr.Config.Guidance != nil {
		// A student: the scales go in as its class vector.
		st, si := make([]float64, n), make([]float64, n)
		for i := range n {
			st[i], si[i] = 7.5, 1.5
		}
		if cond.ClassVector, err = GuidanceVector(m, st, si); err != nil {
			return nil, 0, err
		}
	} else {
		null, err := PromptCond(text, []string{""})
		if err != nil {
			return nil, 0, err
		}
		d = &Guided{D: d, G: Guidance{Scale: 7.5, ImageScale: 1.5, Null: null}}
	}
	x, err := SampleMany(d, tr.Schedule, []int{ch, h, w}, n, 12, Options{Sampler: "dpmpp2m", Steps: 20, Seed: 1, Cond: cond}, nil)
	if err != nil {
		return nil, 0, err
	}
	xd := x.Data().([]float32)
	out := make([]float32, k*cols*per)
	for r := range k {
		row := out[r*cols*per:]
		tr.Data.Inputs.Image(r, row[:per])
		tr.Data.Image(r, row[per:2*per])
		copy(row[2*per:cols*per], xd[r*edits*per:(r+1)*edits*per])
	}
	return tensor.New(tensor.WithShape(k*cols, ch, h, w), tensor.WithBacking(out)), cols, nil
}
