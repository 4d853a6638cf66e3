package perturbstudy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/clockwork-go/clockwork/unet"
)

// SetTaps chooses the taps of the study (names, in the model's order, from
// infos) and their working resolutions.
func (c *Config) SetTaps(names []string, infos []unet.TapInfo) error {
	var all []string
	for _, t := range infos {
		all = append(all, t.Name)
	}
	c.Taps, c.Work = nil, nil
	for _, t := range infos {
		if slices.Contains(names, t.Name) {
			c.Taps = append(c.Taps, t.Name)
			c.Work = append(c.Work, t.WorkH)
		}
	}
	for _, n := range names {
		if !slices.Contains(all, n) {
			return fmt.Errorf("unknown tap %q; the model's taps are %v", n, all)
		}
	}
	return nil
}

// Narrow replaces parts of the grid by comma-separated lists, as the
// perturb command's flags give them (an empty list keeps the grid's): the
// taps (of infos), the start steps k, the mixing weights a (the figure's
// a becomes the first when it is not among them) and the samplers. The
// lists are sorted and given once each; Validate checks the result.
func (c *Config) Narrow(taps, ks, as, samplers string, infos []unet.TapInfo) error {
	if taps != "" {
		if err := c.SetTaps(fields(taps), infos); err != nil {
			return fmt.Errorf("-taps: %w", err)
		}
	}
	if ks != "" {
		var from []int
		for _, f := range fields(ks) {
			v, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("-k: %q is not an integer", f)
			}
			from = append(from, v)
		}
		slices.Sort(from)
		c.From = slices.Compact(from)
		c.GridFrom = c.From
	}
	if as != "" {
		var a []float64
		for _, f := range fields(as) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || math.IsNaN(v) {
				return fmt.Errorf("-a: %q is not a number", f)
			}
			a = append(a, v)
		}
		slices.Sort(a)
		if c.A = slices.Compact(a); !slices.Contains(c.A, c.FigureA) {
			c.FigureA = c.A[0]
		}
	}
	if samplers != "" {
		c.Samplers = fields(samplers)
	}
	return nil
}

// fields returns the non-empty fields of a comma-separated list.
func fields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
