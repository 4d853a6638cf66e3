package edit

import (
	"fmt"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/plots"
)

// validSplit reports whether split names one of the edit pairs' splits.
func validSplit(split string) bool {
	return split == "test" || split == "val" || split == "train"
}

// splitName is how messages name the pairs of each split.
var splitName = map[string]string{"test": "held-out", "val": "validation", "train": "training"}

// evalOut are the files -eval writes besides its table (empty: none).
type evalOut struct{ json, strip, failures string }

// seedFigures are one seed's headline figures in -eval's JSON.
type seedFigures struct {
	Seed      uint64  `json:"seed"`
	Success   float64 `json:"edit_success"`
	Preserved float64 `json:"preservation"`
}

// evaluate runs -eval: the first n pairs of split edited and measured,
// with seeds seeds, and the files of out written.
func evaluate(c *cli.Command, model, adaptor string, o edits.Options, n, seeds int, out evalOut, split string, g [3]bool, chain, strength bool) int {
	jsonOut, strip := out.json, out.strip
	e, err := edits.LoadEditor(model)
	if err != nil {
		return c.Fail(err)
	}
	e.Defaults.Apply(&o, !g[0], !g[1], !g[2])
	e.Defaults.ApplyChain(&o, chain, g[2], strength)
	cw, err := clockwork(e, adaptor, o)
	if err != nil {
		return c.Fail(err)
	}
	m, err := captions.DefaultMeasurer()
	if err != nil {
		return c.Fail(err)
	}
	set, err := edits.OpenSplit(split, n)
	if err != nil {
		return c.Fail(err)
	}
	if n > set.Len() {
		return c.Fail(fmt.Errorf("-n %d: the %s split has %d pairs", n, split, set.Len()))
	}
	gf, err := e.MeanGFLOPs(o, set.Subset(n).Phrases())
	if err != nil {
		return c.Fail(err)
	}
	prog := cli.NewProgress(c.Stderr, n, "edit")
	start := time.Now()
	var f0 int64
	if e.Base != nil {
		f0, _ = diffusion.CountedFLOPs(e.Base)
	}
	r, err := e.Evaluate(m, set, n, o, 1000, func(done int) { prog.Set(done, "") })
	prog.Finish()
	if err != nil {
		return c.Fail(err)
	}
	el := time.Since(start)
	if e.Base != nil {
		f1, _ := diffusion.CountedFLOPs(e.Base)
		// With Clockwork, the U-Net's FLOPs as counted (its adaptor steps
		// cheaper), and the text encoder's as GFLOPs counts them.
		if gf, err = e.CountedGFLOPs(o, set.Subset(n).Phrases(), f1-f0); err != nil {
			return c.Fail(err)
		}
	}
	how := chained(o, ", clauses chained") + fromSource(o) + cw
	c.Printf("%s on %d %s pairs (%s, %d steps, s_T %g, s_I %g, seed %d%s): %.3f GFLOPs per edit, %s in all\n\n", model, n, splitName[split], o.Sampler, o.Steps, o.TextScale, o.ImageScale, o.Seed, how, gf, el.Round(time.Second))
	if err := r.Report.WriteTable(c.Stdout, &r.Ceiling); err != nil {
		return c.Fail(err)
	}
	reportMisses(c, r)
	figs, agree, err := otherSeeds(c, e, m, set, n, seeds, o, r)
	if err != nil {
		return c.Fail(err)
	}
	if out.failures != "" {
		k, err := writeFailures(out.failures, set.Subset(n), r)
		if err != nil {
			return c.Fail(err)
		}
		if k == 0 {
			c.Printf("no pair failed: %s not written\n", out.failures)
		} else {
			c.Printf("wrote %s: the first %d failed pairs (source, true edit, edit)\n", out.failures, k)
		}
	}
	if strip != "" {
		rows := min(16, n)
		idx := make([]int, rows)
		for i := range idx {
			idx[i] = i
		}
		src, tgt, out := pairImages(set, idx, r.Outputs)
		img := append(append(src, tgt...), out...)
		if err := plots.SaveGridPNG(strip, img, 3*rows, 1, captions.Side, captions.Side, rows, 2); err != nil {
			return c.Fail(err)
		}
	}
	if jsonOut != "" {
		rep := struct {
			Model   string           `json:"model"`
			Adaptor string           `json:"adaptor,omitempty"`
			Options edits.Options    `json:"options"`
			GFLOPs  float64          `json:"gflops_per_edit"`
			Seconds float64          `json:"seconds"`
			Edits   edits.Report     `json:"edits"`
			Ceiling edits.Report     `json:"true_edits"`
			Seeds   []seedFigures    `json:"seeds,omitempty"`
			Agree   *edits.Agreement `json:"failures_over_seeds,omitempty"`
		}{model, adaptor, o, gf, el.Seconds(), r.Report, r.Ceiling, figs, agree}
		if err := c.WriteStamped(jsonOut, rep); err != nil {
			return c.Fail(err)
		}
	}
	return 0
}

// otherSeeds evaluates the pairs again with the seeds after o.Seed (seeds
// in all, r being o.Seed's evaluation) and prints each seed's edit success
// and preservation and in how many seeds each pair failed. With one seed
// it does nothing and returns nils.
func otherSeeds(c *cli.Command, e *edits.Editor, m *captions.Measurer, set *edits.Set, n, seeds int, o edits.Options, r *edits.EvalResult) ([]seedFigures, *edits.Agreement, error) {
	if seeds <= 1 {
		return nil, nil, nil
	}
	figs := []seedFigures{{o.Seed, r.Report.Success.Share.Value, r.Report.Preserved.Share.Value}}
	runs := [][]edits.Result{r.Results}
	for s := 1; s < seeds; s++ {
		oo := o
		oo.Seed = o.Seed + uint64(s)
		prog := cli.NewProgress(c.Stderr, n, fmt.Sprintf("seed %d", oo.Seed))
		rs, err := e.Evaluate(m, set, n, oo, 1000, func(done int) { prog.Set(done, "") })
		prog.Finish()
		if err != nil {
			return nil, nil, fmt.Errorf("seed %d: %w", oo.Seed, err)
		}
		figs = append(figs, seedFigures{oo.Seed, rs.Report.Success.Share.Value, rs.Report.Preserved.Share.Value})
		runs = append(runs, rs.Results)
	}
	a, err := edits.Agree(runs)
	if err != nil {
		return nil, nil, err
	}
	list := func(f func(seedFigures) float64) string {
		var p []string
		for _, x := range figs {
			p = append(p, fmt.Sprintf("%.3f", f(x)))
		}
		return strings.Join(p, ", ")
	}
	counts := func(v []int) string {
		var p []string
		for k, x := range v {
			switch {
			case k == 0:
				p = append(p, fmt.Sprintf("in no seed %d", x))
			case k == len(v)-1:
				p = append(p, fmt.Sprintf("in all %d seeds %d", k, x))
			case k == 1:
				p = append(p, fmt.Sprintf("in 1 seed %d", x))
			default:
				p = append(p, fmt.Sprintf("in %d seeds %d", k, x))
			}
		}
		return strings.Join(p, ", ")
	}
	c.Printf("\nOver %d seeds (%d to %d): edit success %s; preservation %s\n", seeds, o.Seed, o.Seed+uint64(seeds-1),
		list(func(x seedFigures) float64 { return x.Success }), list(func(x seedFigures) float64 { return x.Preserved }))
	c.Printf("pairs whose digit was not kept: %s\n", counts(a.DigitMissed))
	c.Printf("pairs not preserved: %s\n", counts(a.NotPreserved))
	return figs, &a, nil
}
