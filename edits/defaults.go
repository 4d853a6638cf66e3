package edits

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
