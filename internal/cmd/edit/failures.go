package edit

import (
	"fmt"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/edits"
	ev "github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/plots"
)

// maxFailures bounds the pairs -failures draws; failureCols is how many
// (source, true edit, edit) triples a row of its PNG holds.
const (
	maxFailures = 32
	failureCols = 4
)

// reportMisses prints how the pairs of r failed: edits not made, edits
// not preserved, and the digit misses sorted by what the classifier read
// (edits.DigitMisses).
func reportMisses(c *cli.Command, r *edits.EvalResult) {
	var notMade, notKept int
	var all, miss []float64
	for _, x := range r.Results {
		if !x.Success {
			notMade++
		}
		if !x.Preserved {
			notKept++
		}
		all = append(all, x.PSNR)
		if x.Digits[2] != x.Digits[1] {
			miss = append(miss, x.PSNR)
		}
	}
	d := edits.CountDigitMisses(r.Results)
	c.Printf("\n%d of %d edits not made, %d not preserved; the digit not kept in %d: %d read as the source's digit where the classifier reads the true edit as another, %d as another digit\n",
		notMade, len(r.Results), notKept, d.AsSource+d.Other, d.AsSource, d.Other)
	if len(miss) > 0 {
		c.Printf("PSNR to the true edit, median: %.1f dB where the digit was not kept, %.1f dB over all pairs\n", ev.Median(miss), ev.Median(all))
	}
}

// writeFailures writes a PNG of the first maxFailures pairs of set whose
// edit was not made or not preserved: for each, the source, the true edit
// and the edit side by side, failureCols pairs a row. It returns how many
// it drew (none: no file is written).
func writeFailures(path string, set *edits.Set, r *edits.EvalResult) (int, error) {
	const per = captions.Side * captions.Side
	var idx []int
	for i, x := range r.Results {
		if (!x.Success || !x.Preserved) && len(idx) < maxFailures {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return 0, nil
	}
	src, tgt, out := pairImages(set, idx, r.Outputs)
	img := make([]float32, 0, 3*len(idx)*per)
	for k := range idx {
		img = append(img, src[k*per:(k+1)*per]...)
		img = append(img, tgt[k*per:(k+1)*per]...)
		img = append(img, out[k*per:(k+1)*per]...)
	}
	if err := plots.SaveGridPNG(path, img, 3*len(idx), 1, captions.Side, captions.Side, 3*failureCols, 2); err != nil {
		return 0, fmt.Errorf("-failures: %w", err)
	}
	return len(idx), nil
}

// pairImages returns the sources, the true edits and the edits (from
// outputs, the edits of the whole set) of set's pairs idx, each in idx's
// order: what -strip and -failures draw.
func pairImages(set *edits.Set, idx []int, outputs []float32) (src, tgt, out []float32) {
	const per = captions.Side * captions.Side
	src = make([]float32, len(idx)*per)
	tgt = make([]float32, len(idx)*per)
	set.Data.Inputs.Batch(idx, src, nil)
	set.Data.Batch(idx, tgt, nil)
	out = make([]float32, 0, len(idx)*per)
	for _, i := range idx {
		out = append(out, outputs[i*per:(i+1)*per]...)
	}
	return src, tgt, out
}
