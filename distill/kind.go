package distill

import (
	"fmt"
	"slices"
	"sync"
)

// AdaptorConfig describes an adaptor: its kind and the settings every kind
// shares. It is what adaptor.json records under "spec".
type AdaptorConfig struct {
	// Kind names a registered kind (KindNames).
	Kind string `json:"kind"`
	// Width is the adaptor's channel width, for kinds that have one (0:
	// the kind's default).
	Width int `json:"width,omitempty"`
	// Depth is the cut (unet.Split): 1 replaces everything below the first
	// down and the last up block.
	Depth int `json:"cut_depth"`
	// NoPrev drops the previous step's r_out from the adaptor's inputs
	// (and its residual connection): the paper's input ablation, and the
	// only kind of adaptor that can run at every step. Kinds that take it
	// say so (Kind.TakesNoPrev).
	NoPrev bool `json:"no_prev,omitempty"`
	// Steps is the number of sampling steps (a kind with per-step
	// parameters keeps one set per step).
	Steps int `json:"steps"`
	// StepSize conditions the adaptor on the step's size (the previous
	// step's timestep minus this one's), so that one adaptor can serve
	// several step counts. Kinds that take it say so
	// (Kind.TakesStepSize).
	StepSize bool `json:"step_size,omitempty"`
	// Text conditions the adaptor on the prompt's pooled text embedding
	// (diffusion.Cond.Pooled) of a text-conditioned teacher: the paper's
	// ResNet adaptor with the text projected and added after its first
	// convolution, which its Tab. 5 found changes nothing. Kinds that take
	// it say so (Kind.TakesText).
	Text bool `json:"text,omitempty"`
}

// Kind is a kind of adaptor, registered by name (RegisterKind) so that
// adaptor directories of it load, distil and enter the studies. The
// toolkit's own are identity, scaleshift, resnet, unet-light and oracle.
type Kind struct {
	// Name is the kind's name in AdaptorConfig and adaptor.json.
	Name string
	// DefaultWidth is the width of a config that gives none; 0 for a
	// kind without a width.
	DefaultWidth int
	// UsesPrev says the adaptor reads the previous step's r_out (unless
	// the config sets NoPrev): the first step of its clock must be full.
	UsesPrev bool
	// Trainable says it has parameters to distil (its adaptors implement
	// Trainable).
	Trainable bool
	// PerStep says it keeps parameters per sampling step: it runs only at
	// the step count it was built for, and cannot serve several.
	PerStep bool
	// TakesNoPrev, TakesStepSize and TakesText say which of
	// AdaptorConfig's options the kind accepts.
	TakesNoPrev, TakesStepSize, TakesText bool
	// New builds an adaptor on b (the teacher's split and shapes), its
	// parameters drawn from seed.
	New func(b *AdaptorBase, seed uint64) (Adaptor, error)
}

var kinds struct {
	sync.RWMutex
	byName map[string]Kind
	names  []string
}

// RegisterKind adds an adaptor kind. A name already taken, an empty name
// and a missing constructor are errors.
func RegisterKind(k Kind) error {
	if k.Name == "" || k.New == nil {
		return fmt.Errorf("register adaptor kind %q: want a name and New", k.Name)
	}
	kinds.Lock()
	defer kinds.Unlock()
	if kinds.byName == nil {
		kinds.byName = map[string]Kind{}
	}
	if _, ok := kinds.byName[k.Name]; ok {
		return fmt.Errorf("register adaptor kind %q: the name is taken", k.Name)
	}
	kinds.byName[k.Name] = k
	kinds.names = append(kinds.names, k.Name)
	return nil
}

// MustRegisterKind is RegisterKind for package initialisation; it panics
// on an error (a programmer's mistake).
func MustRegisterKind(k Kind) {
	if err := RegisterKind(k); err != nil {
		panic(err)
	}
}

// LookupKind returns the registered kind of a name, or an error listing
// the registered ones.
func LookupKind(name string) (Kind, error) {
	kinds.RLock()
	defer kinds.RUnlock()
	k, ok := kinds.byName[name]
	if !ok {
		return Kind{}, fmt.Errorf("unknown adaptor %q (have %v)", name, kinds.names)
	}
	return k, nil
}

// KindNames returns the registered kinds' names, the toolkit's first.
func KindNames() []string {
	kinds.RLock()
	defer kinds.RUnlock()
	return slices.Clone(kinds.names)
}

func init() {
	for _, k := range []Kind{identityKind, scaleShiftKind, resNetKind, uNetLightKind, oracleKind} {
		MustRegisterKind(k)
	}
}

// DefaultWidth returns a kind's default width (0 for an unknown kind or one
// without a width).
func DefaultWidth(kind string) int {
	k, err := LookupKind(kind)
	if err != nil {
		return 0
	}
	return k.DefaultWidth
}

// WithDefaults returns c with the kind's default width filled in.
func (c AdaptorConfig) WithDefaults() AdaptorConfig {
	if c.Width == 0 {
		c.Width = DefaultWidth(c.Kind)
	}
	return c
}

// Validate reports an unknown kind or an impossible combination.
func (c AdaptorConfig) Validate() error {
	k, err := LookupKind(c.Kind)
	if err != nil {
		return err
	}
	if c.Depth < 1 {
		return fmt.Errorf("cut depth %d must be at least 1", c.Depth)
	}
	if c.Steps < 1 {
		return fmt.Errorf("adaptor for %d sampling steps", c.Steps)
	}
	if k.DefaultWidth > 0 && (c.Width < 1 || c.Width > 4096) {
		return fmt.Errorf("%s adaptor width %d: want 1 to 4096", c.Kind, c.Width)
	}
	if c.NoPrev && !k.TakesNoPrev {
		return fmt.Errorf("a %s adaptor needs the previous step's r_out: it takes no -no-prev", c.Kind)
	}
	if c.StepSize && !k.TakesStepSize {
		return fmt.Errorf("a %s adaptor does not condition on the step size", c.Kind)
	}
	if c.Text && !k.TakesText {
		return fmt.Errorf("a %s adaptor does not condition on the text", c.Kind)
	}
	return nil
}

// NeedsPrev reports whether the adaptor reads the previous step's r_out.
func (c AdaptorConfig) NeedsPrev() bool {
	k, err := LookupKind(c.Kind)
	return err == nil && k.UsesPrev && !c.NoPrev
}

// kind returns the config's registered kind.
func (c AdaptorConfig) kind() (Kind, error) { return LookupKind(c.Kind) }
