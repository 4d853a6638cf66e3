package diffusion

import (
	"fmt"
	"slices"
	"sync"
)

// Sampler is a sampling algorithm, a value a user can register beside the
// toolkit's own (Register) and then name wherever a sampler is chosen
// (Options.Sampler, the commands' -sampler, adaptor directories).
//
// Its Sample function sees the run through Run's step protocol: for every
// model evaluation it calls Run.Denoise (which begins the step on every
// layer of the denoiser chain and returns the x₀ estimate) and then
// Run.EndStep with the step's x₀ and the new state. A run checks the
// protocol: an evaluation left unended, or fewer or more evaluations than
// Evals declares, is an error, never a silent change of what a
// step-dependent method (Clockwork, a perturbation) computes.
type Sampler struct {
	// Name is how the sampler is chosen.
	Name string
	// Timesteps returns the descending timesteps of n steps over T
	// training steps with a spacing ("" for the sampler's default);
	// Grid lays the usual ones.
	Timesteps func(n, T int, spacing string) ([]float64, error)
	// Spacing is the spacing Timesteps lays when given none (leading,
	// trailing or linspace); Sample passes it when neither the options
	// nor the model's scheduler config choose one. Empty: Timesteps gets
	// "" and decides.
	Spacing string
	// Evals returns the model evaluations of a run of n steps, n when nil
	// (one per step). A step-dependent method's schedule counts
	// evaluations.
	Evals func(n int) int
	// Sample integrates from the noise in r.X (or the noised images,
	// Run.FromImages) to x₀, left in r.X.
	Sample func(r *Run) error

	karras karrasKind // how it lays Karras sigmas; none for users' samplers
}

// evals returns the model evaluations of n steps.
func (s Sampler) evals(n int) int {
	if s.Evals == nil {
		return n
	}
	return s.Evals(n)
}

// EvalsFor returns the model evaluations the named sampler makes in n steps:
// the length of a Clockwork schedule for it.
func EvalsFor(sampler string, n int) (int, error) {
	s, err := LookupSampler(sampler)
	if err != nil {
		return 0, err
	}
	return s.evals(n), nil
}

var samplers struct {
	sync.RWMutex
	byName map[string]Sampler
	names  []string
}

// Register adds a sampler under its name. A name already taken, an empty
// name and a missing function are errors.
func Register(s Sampler) error {
	if s.Name == "" || s.Timesteps == nil || s.Sample == nil {
		return fmt.Errorf("register sampler %q: want a name, Timesteps and Sample", s.Name)
	}
	samplers.Lock()
	defer samplers.Unlock()
	if samplers.byName == nil {
		samplers.byName = map[string]Sampler{}
	}
	if _, ok := samplers.byName[s.Name]; ok {
		return fmt.Errorf("register sampler %q: the name is taken", s.Name)
	}
	samplers.byName[s.Name] = s
	samplers.names = append(samplers.names, s.Name)
	return nil
}

// MustRegister is Register for package initialisation; it panics on an
// error (a programmer's mistake).
func MustRegister(s Sampler) {
	if err := Register(s); err != nil {
		panic(err)
	}
}

// LookupSampler returns the registered sampler of a name, or an error
// listing the registered ones.
func LookupSampler(name string) (Sampler, error) {
	samplers.RLock()
	defer samplers.RUnlock()
	s, ok := samplers.byName[name]
	if !ok {
		return Sampler{}, fmt.Errorf("unknown sampler %q (have %v)", name, samplers.names)
	}
	return s, nil
}

// SamplerNames returns the registered samplers' names, the toolkit's own
// (ddpm, ddim, dpmpp2m, euler) first, then the users' in the order they
// were registered.
func SamplerNames() []string {
	samplers.RLock()
	defer samplers.RUnlock()
	return slices.Clone(samplers.names)
}

func init() {
	for _, s := range []Sampler{ddpmSampler, ddimSampler, dpmpp2mSampler, eulerSampler} {
		MustRegister(s)
	}
}

// spaced returns a Timesteps function over Grid with a default spacing,
// points(n) grid points, and fractional linspace values when fractional.
func spaced(def string, points func(n int) int, fractional bool) func(n, T int, spacing string) ([]float64, error) {
	return func(n, T int, spacing string) ([]float64, error) {
		if spacing == "" {
			spacing = def
		}
		return Grid(n, points(n), T, spacing, fractional && spacing == SpacingLinspace)
	}
}

func sameCount(n int) int { return n }
