package edits

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/unet"
)

// DefaultsFile is the file of an editor's directory that gives the scales,
// steps and chaining it runs at by default.
const DefaultsFile = "editor_defaults.json"

// Defaults are an editor's default guidance scales, steps and chaining,
// and how they were chosen.
type Defaults struct {
	TextScale  float64 `json:"text_scale"`
	ImageScale float64 `json:"image_scale"`
	Steps      int     `json:"steps"`
	// ChainSteps, when positive, makes the edit command chain an
	// instruction's clauses (Options.Chain) unless told not to, at this
	// many steps per clause; Steps stays the steps of a whole instruction
	// in one edit (as studies and video editing run the editor).
	ChainSteps int `json:"chain_steps,omitempty"`
	// ChainStrength, in (0, 1), starts each chained clause's edit from its
	// source part-way (Options.Strength) at ChainSteps.
	ChainStrength float64 `json:"chain_strength,omitempty"`
	ChosenBy      string  `json:"chosen_by"`
}

// Apply sets o's scales and steps to the defaults (all of them: the
// caller leaves out what the user gave).
func (d *Defaults) Apply(o *Options, text, image, steps bool) {
	if d == nil {
		return
	}
	if text {
		o.TextScale = d.TextScale
	}
	if image {
		o.ImageScale = d.ImageScale
	}
	if steps && d.Steps > 0 {
		o.Steps = d.Steps
	}
}

// ApplyChain applies the chained default when the editor has one
// (ChainSteps > 0). Unlike Apply, its flags say what the user gave:
// unless chainGiven (or o composes clauses), o.Chain is set; then, if o
// chains and !stepsGiven, o.Steps becomes ChainSteps and, unless
// strengthGiven, o.Strength ChainStrength (a strength belongs to its
// steps: steps given run from noise unless a strength is given too).
func (d *Defaults) ApplyChain(o *Options, chainGiven, stepsGiven, strengthGiven bool) {
	if d == nil || d.ChainSteps <= 0 {
		return
	}
	if !chainGiven && o.Compose <= 1 {
		o.Chain = true
	}
	if o.Chain && !stepsGiven {
		o.Steps = d.ChainSteps
		if !strengthGiven {
			o.Strength = d.ChainStrength
		}
	}
}

// LoadDefaults reads a model directory's DefaultsFile: nil when there is
// none; an unknown key, scales a guided edit refuses, negative chain_steps
// or a chain_strength that keeps no step of them is an error naming the
// file.
func LoadDefaults(dir string) (*Defaults, error) {
	path := filepath.Join(unet.Dir(dir), DefaultsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d Defaults
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := (Options{TextScale: d.TextScale, ImageScale: d.ImageScale, Steps: max(d.Steps, 1), Batch: 1}).Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.ChainSteps < 0 {
		return nil, fmt.Errorf("%s: chain_steps %d: want 0 (no chaining) or a positive number", path, d.ChainSteps)
	}
	if d.ChainStrength != 0 {
		if _, err := diffusion.StepsFrom(d.ChainSteps, d.ChainStrength); err != nil || d.ChainSteps == 0 || d.ChainStrength == 1 {
			return nil, fmt.Errorf("%s: chain_strength %g: want a strength in (0, 1) that keeps a step of chain_steps %d", path, d.ChainStrength, d.ChainSteps)
		}
	}
	return &d, nil
}
