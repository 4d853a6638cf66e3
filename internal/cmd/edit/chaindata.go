package edit

import (
	"fmt"
	"time"

	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/cli"
)

// writeChainData runs -chain-data: the editor's edits by the first clause
// of the two-change instructions among the train split's first n pairs, at
// its chained defaults (what a chained edit gives its second clause),
// written to path for "edits:chained:path".
func writeChainData(c *cli.Command, model string, o edits.Options, n int, path string, g [3]bool, strength bool) int {
	if err := cli.CheckOutFiles("-chain-data", path); err != nil {
		return c.Fail(err)
	}
	e, err := edits.LoadEditor(model)
	if err != nil {
		return c.Fail(err)
	}
	e.Defaults.Apply(&o, !g[0], !g[1], !g[2])
	e.Defaults.ApplyChain(&o, false, g[2], strength)
	if n > edits.TrainPairs {
		return c.Fail(fmt.Errorf("-n %d: the train split has %d pairs", n, edits.TrainPairs))
	}
	set, err := edits.OpenSplit("train", n)
	if err != nil {
		return c.Fail(err)
	}
	pairs, err := edits.TwoClausePairs(set, n)
	if err != nil {
		return c.Fail(err)
	}
	prog := cli.NewProgress(c.Stderr, len(pairs), "edit")
	start := time.Now()
	out, err := e.FirstClauses(set, pairs, o, func(done int) { prog.Set(done, "") })
	prog.Finish()
	if err != nil {
		return c.Fail(err)
	}
	if err := edits.WriteChained(path, pairs, out); err != nil {
		return c.Fail(err)
	}
	c.Printf("%s: the first clauses of the %d two-change instructions among the first %d training pairs edited (%s, %d steps, s_T %g, s_I %g, seed %d%s) in %s; wrote %s (train on it with -data edits:%s%s)\n",
		model, len(pairs), n, o.Sampler, o.Steps, o.TextScale, o.ImageScale, o.Seed, fromSource(o), time.Since(start).Round(time.Second), path, edits.ChainedData, path)
	return 0
}
