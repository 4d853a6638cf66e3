package edits

import (
	"fmt"
	"io"
	"math"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/metrics"
)

// AngleTolerance is how far, in degrees, a measured rotation may lie from
// the one asked for (half the step Angle): a rotation "a little left" is
// a success when the output reads as the source turned by Angle ± 7.5°;
// an edit that asks for no rotation keeps it within ±7.5°.
const AngleTolerance = Angle / 2

// maxAngle bounds the rotations MeasureAngle tries, in degrees.
const maxAngle = 30

// Result is how one edited image measures against its pair.
type Result struct {
	// Changed holds, for each attribute the instruction changes, whether
	// the output reads as the source's value moved by the instruction's
	// step (the right way, by the right amount); Kept, for every other
	// attribute and the digit, whether it reads as the source's.
	Changed map[Attribute]bool
	Kept    map[string]bool
	// Success is every change made; Preserved every other attribute kept.
	Success, Preserved bool
	// PSNR (dB, images in [−1, 1]) and L2 to the true edit; L1Out the mean
	// absolute difference from it over the pixels the edit leaves alone
	// (source and target equal there and in their 3×3 neighbourhood).
	PSNR, L2, L1Out float64
	// Angle is the output's rotation against the source, as MeasureAngle
	// reads it.
	Angle float64
	// Digits are the classifier's readings of the source, the true edit
	// and the output (−1 for an image without ink); the digit is kept when
	// the last two agree.
	Digits [3]int
}

// kept names the attributes Preserved checks besides those of Attribute.
const keptDigit = "digit"

// Evaluate measures n edited images (outputs, n·32·32 values in [−1, 1],
// as a sampler gives them) against the first n pairs of set with m: each
// change the instruction asks for read back from the pixels (captions'
// measures for stroke, size, column and row, MeasureAngle for the
// rotation), every other attribute and the digit kept, PSNR and L2 to the
// true edit, L1 outside the edited region. NaN or infinite pixels and
// wrong lengths are errors.
func Evaluate(m *captions.Measurer, set *Set, outputs []float32, n int) ([]Result, error) {
	const per = captions.Side * captions.Side
	if n <= 0 || n > set.Len() {
		return nil, fmt.Errorf("edits: evaluate %d outputs of a set of %d pairs", n, set.Len())
	}
	if len(outputs) != n*per {
		return nil, fmt.Errorf("edits: %d values for %d 32×32 outputs", len(outputs), n)
	}
	src := make([]float32, n*per)
	tgt := make([]float32, n*per)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	set.Data.Inputs.Batch(idx, src, nil)
	set.Data.Batch(idx, tgt, nil)
	outA, err := m.Measure(outputs, n)
	if err != nil {
		return nil, fmt.Errorf("edits: the outputs: %w", err)
	}
	srcA, err := m.Measure(src, n)
	if err != nil {
		return nil, fmt.Errorf("edits: the sources: %w", err)
	}
	tgtA, err := m.Measure(tgt, n)
	if err != nil {
		return nil, fmt.Errorf("edits: the true edits: %w", err)
	}
	dist, err := metrics.PairedDistances(outputs, tgt, n)
	if err != nil {
		return nil, err
	}
	psnr := metrics.CapPSNR(dist.PSNR)
	res := make([]Result, n)
	for i := range n {
		in := set.Instructions[i]
		o, s := outA[i], srcA[i]
		r := Result{Changed: map[Attribute]bool{}, Kept: map[string]bool{}, PSNR: psnr[i], L2: dist.L2[i]}
		oi, si, ti := outputs[i*per:(i+1)*per], src[i*per:(i+1)*per], tgt[i*per:(i+1)*per]
		r.L1Out = l1Outside(oi, si, ti)
		if r.Angle, err = MeasureAngle(oi, si); err != nil {
			return nil, fmt.Errorf("edits: output %d: %w", i, err)
		}
		step := func(a Attribute, got, from int8) {
			if d := in[a]; d != 0 {
				// got is 0 (Any) for an output without ink: never an edit.
				r.Changed[a] = got != 0 && got == from+d
			} else {
				r.Kept[a.String()] = got == from
			}
		}
		step(Stroke, int8(o.Stroke), int8(s.Stroke))
		step(Size, int8(o.Size), int8(s.Size))
		step(Column, int8(o.H), int8(s.H))
		step(Row, int8(o.V), int8(s.V))
		if d := in[Rotation]; d != 0 {
			r.Changed[Rotation] = o.Digit >= 0 && math.Abs(r.Angle-Angle*float64(d)) <= AngleTolerance
		} else {
			r.Kept[Rotation.String()] = math.Abs(r.Angle) <= AngleTolerance
		}
		// The digit is judged against the classifier's reading of the
		// true edit rather than of the source: an edit changes how the
		// classifier (trained on MNIST's strokes and framing) reads some
		// digits, and that is not the editor's doing.
		r.Kept[keptDigit] = o.Digit == tgtA[i].Digit
		r.Digits = [3]int{s.Digit, tgtA[i].Digit, o.Digit}
		r.Success, r.Preserved = true, true
		for _, ok := range r.Changed {
			r.Success = r.Success && ok
		}
		for _, ok := range r.Kept {
			r.Preserved = r.Preserved && ok
		}
		res[i] = r
	}
	return res, nil
}

// DigitMisses sorts the pairs whose digit was not kept by what the
// classifier read: AsSource, the output read as the source's digit where
// the true edit reads as another (the edit moved the true digit across the
// classifier's boundary and the output did not follow); Other, every
// other miss. Pairs is how many results there were.
type DigitMisses struct {
	Pairs, AsSource, Other int
}

// CountDigitMisses counts res's digit misses (DigitMisses).
func CountDigitMisses(res []Result) DigitMisses {
	d := DigitMisses{Pairs: len(res)}
	for _, r := range res {
		src, tgt, out := r.Digits[0], r.Digits[1], r.Digits[2]
		switch {
		case out == tgt:
		case out == src && src != tgt:
			d.AsSource++
		default:
			d.Other++
		}
	}
	return d
}

// Agreement is how the pairs' failures repeat over evaluations of the
// same pairs with other noise seeds: DigitMissed[k] pairs had their digit
// not kept in exactly k of the seeds, NotPreserved[k] were not preserved
// in exactly k (both of length seeds+1). A failure in every seed belongs
// to the editor and the pair, not to the noise.
type Agreement struct {
	Seeds        int   `json:"seeds"`
	DigitMissed  []int `json:"digit_missed_in"`
	NotPreserved []int `json:"not_preserved_in"`
}

// Agree counts, over the results of several seeds (runs[s][i] the result
// of pair i under seed s, every run over the same pairs), in how many
// seeds each pair missed its digit and was not preserved.
func Agree(runs [][]Result) (Agreement, error) {
	if len(runs) == 0 {
		return Agreement{}, fmt.Errorf("edits: agreement of no runs")
	}
	n := len(runs[0])
	a := Agreement{Seeds: len(runs), DigitMissed: make([]int, len(runs)+1), NotPreserved: make([]int, len(runs)+1)}
	for s, r := range runs {
		if len(r) != n {
			return Agreement{}, fmt.Errorf("edits: seed %d has %d results, seed 0 %d", s, len(r), n)
		}
	}
	for i := range n {
		var d, p int
		for _, r := range runs {
			if r[i].Digits[2] != r[i].Digits[1] {
				d++
			}
			if !r[i].Preserved {
				p++
			}
		}
		a.DigitMissed[d]++
		a.NotPreserved[p]++
	}
	return a, nil
}

// l1Outside returns the mean |out − tgt| over the pixels where src and
// tgt agree in a 3×3 neighbourhood; 0 when there are none.
func l1Outside(out, src, tgt []float32) float64 {
	const side = captions.Side
	var s float64
	k := 0
	for y := range side {
		for x := range side {
			same := true
			for dy := -1; dy <= 1 && same; dy++ {
				for dx := -1; dx <= 1; dx++ {
					yy, xx := y+dy, x+dx
					if yy >= 0 && yy < side && xx >= 0 && xx < side && src[yy*side+xx] != tgt[yy*side+xx] {
						same = false
						break
					}
				}
			}
			if same {
				s += math.Abs(float64(out[y*side+x]) - float64(tgt[y*side+x]))
				k++
			}
		}
	}
	if k == 0 {
		return 0
	}
	return s / float64(k)
}

// MeasureAngle reads the rotation of img against src (32×32 images in
// [−1, 1]), in degrees, counter-clockwise as seen: the whole angle in
// [−30, 30] at which src, rotated about its ink's centre of mass, moved to
// img's and scaled, is closest to img in L2 (ink read as captions'
// measures read it). The scale is 1 unless the heights of the two inks
// differ by more than 30% (a change of size), when it is searched over
// 0.88 to 1.12 times their ratio. An image without ink reads as 0.
func MeasureAngle(img, src []float32) (float64, error) {
	gi, err := captions.MeasureGeometry(img)
	if err != nil {
		return 0, err
	}
	gs, err := captions.MeasureGeometry(src)
	if err != nil {
		return 0, err
	}
	if !gi.Ink || !gs.Ink {
		return 0, nil
	}
	const side = captions.Side
	ink := func(v float32) float64 { return math.Min(math.Max(float64(v)+0.5, 0), 1) }
	var a, b [side * side]float64
	for k := range a {
		a[k], b[k] = ink(img[k]), ink(src[k])
	}
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= side || y >= side {
			return 0
		}
		return b[y*side+x]
	}
	scales := []float64{1}
	if r := gi.Height / gs.Height; math.Abs(math.Log(r)) > math.Log(1.3) {
		scales = scales[:0]
		for k := -4; k <= 4; k++ {
			scales = append(scales, r*(1+0.03*float64(k)))
		}
	}
	best, bestD := 0.0, math.Inf(1)
	for _, sc := range scales {
		for deg := -maxAngle; deg <= maxAngle; deg++ {
			th := float64(deg) * math.Pi / 180
			c, s := math.Cos(th)/sc, math.Sin(th)/sc
			var d float64
			for y := range side {
				for x := range side {
					px, py := float64(x)+0.5-gi.X, float64(y)+0.5-gi.Y
					sx := c*px - s*py + gs.X - 0.5
					sy := s*px + c*py + gs.Y - 0.5
					x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
					fx, fy := sx-float64(x0), sy-float64(y0)
					v := (1-fy)*((1-fx)*at(x0, y0)+fx*at(x0+1, y0)) + fy*((1-fx)*at(x0, y0+1)+fx*at(x0+1, y0+1))
					e := v - a[y*side+x]
					d += e * e
				}
			}
			if d < bestD || (d == bestD && math.Abs(float64(deg)) < math.Abs(best)) {
				best, bestD = float64(deg), d
			}
		}
	}
	return best, nil
}

// Rate is a share of pairs with its exact 95% interval.
type Rate struct {
	N     int              `json:"n"`
	Share metrics.Interval `json:"share"`
}

func rate(hits []bool) (Rate, error) {
	if len(hits) == 0 {
		return Rate{}, nil
	}
	iv, err := metrics.Hits(hits)
	return Rate{N: len(hits), Share: iv}, err
}

// Group is the success and preservation of a group of pairs (one
// instruction, or a kind of instruction).
type Group struct {
	Name      string `json:"name"`
	Success   Rate   `json:"success"`
	Preserved Rate   `json:"preserved"`
}

// Report summarises Evaluate's results: the shares of edits made and of
// pairs whose other attributes were kept, with exact 95% intervals
// (metrics.Proportion), the mean PSNR, L2 and L1 outside the edit with
// bootstrap intervals (metrics.Mean), per attribute, per kind of
// instruction (one change, two seen in training, two held out) and per
// instruction.
type Report struct {
	Pairs     int              `json:"pairs"`
	Success   Rate             `json:"success"`
	Preserved Rate             `json:"preserved"`
	PSNR      metrics.Interval `json:"psnr"`
	L2        metrics.Interval `json:"l2"`
	L1Out     metrics.Interval `json:"l1_outside"`
	// Changed is, per attribute, the share of the pairs that change it
	// whose output reads as changed right; Kept, per attribute and the
	// digit, the share of those that keep it whose output keeps it.
	Changed map[string]Rate `json:"changed"`
	Kept    map[string]Rate `json:"kept"`
	Kinds   []Group         `json:"kinds"`
	// Instructions is one Group per instruction, in All's order, for the
	// instructions present.
	Instructions []Group `json:"instructions"`
}

// Summarise reports the results of the first len(res) pairs of set, the
// bootstrap intervals from reps resamples drawn from seed.
func Summarise(set *Set, res []Result, reps int, seed uint64) (Report, error) {
	n := len(res)
	if n == 0 || n > set.Len() {
		return Report{}, fmt.Errorf("edits: summarise %d results of a set of %d pairs", n, set.Len())
	}
	r := Report{Pairs: n, Changed: map[string]Rate{}, Kept: map[string]Rate{}}
	succ, pres := make([]bool, n), make([]bool, n)
	var psnr, l2, l1 []float64
	changed, kept := map[string][]bool{}, map[string][]bool{}
	type acc struct{ s, p []bool }
	byIns := map[Instruction]*acc{}
	kinds := map[string]*acc{}
	for i, x := range res {
		succ[i], pres[i] = x.Success, x.Preserved
		psnr, l2, l1 = append(psnr, x.PSNR), append(l2, x.L2), append(l1, x.L1Out)
		for a, ok := range x.Changed {
			changed[a.String()] = append(changed[a.String()], ok)
		}
		for a, ok := range x.Kept {
			kept[a] = append(kept[a], ok)
		}
		in := set.Instructions[i]
		if byIns[in] == nil {
			byIns[in] = &acc{}
		}
		byIns[in].s, byIns[in].p = append(byIns[in].s, x.Success), append(byIns[in].p, x.Preserved)
		k := KindOf(in)
		if kinds[k] == nil {
			kinds[k] = &acc{}
		}
		kinds[k].s, kinds[k].p = append(kinds[k].s, x.Success), append(kinds[k].p, x.Preserved)
	}
	var err error
	if r.Success, err = rate(succ); err != nil {
		return r, err
	}
	if r.Preserved, err = rate(pres); err != nil {
		return r, err
	}
	if r.PSNR, err = metrics.Mean(psnr, reps, seed); err != nil {
		return r, err
	}
	if r.L2, err = metrics.Mean(l2, reps, seed+1); err != nil {
		return r, err
	}
	if r.L1Out, err = metrics.Mean(l1, reps, seed+2); err != nil {
		return r, err
	}
	for k, v := range changed {
		if r.Changed[k], err = rate(v); err != nil {
			return r, err
		}
	}
	for k, v := range kept {
		if r.Kept[k], err = rate(v); err != nil {
			return r, err
		}
	}
	group := func(name string, a *acc) (Group, error) {
		g := Group{Name: name}
		var err error
		if g.Success, err = rate(a.s); err != nil {
			return g, err
		}
		g.Preserved, err = rate(a.p)
		return g, err
	}
	for _, k := range Kinds() {
		if a := kinds[k]; a != nil {
			g, err := group(k, a)
			if err != nil {
				return r, err
			}
			r.Kinds = append(r.Kinds, g)
		}
	}
	for _, in := range All() {
		if a := byIns[in]; a != nil {
			g, err := group(in.String(), a)
			if err != nil {
				return r, err
			}
			r.Instructions = append(r.Instructions, g)
		}
	}
	return r, nil
}

// The kinds of instruction Report groups by.
const (
	KindOne     = "one change"
	KindTwo     = "two changes, seen in training"
	KindHeldOut = "two changes, held out"
)

// Kinds lists the kinds of instruction in report order.
func Kinds() []string { return []string{KindOne, KindTwo, KindHeldOut} }

// KindOf returns the kind of an instruction.
func KindOf(in Instruction) string {
	switch {
	case len(in.Changes()) == 1:
		return KindOne
	case in.HeldOut():
		return KindHeldOut
	}
	return KindTwo
}

// WriteTable writes the report as Markdown tables: the overall figures,
// then per kind and per instruction, with ceiling (a report of the true
// edits, the measures' own reading of them) beside each when it is not
// nil.
func (r Report) WriteTable(w io.Writer, ceiling *Report) error {
	pct := func(x Rate) string {
		if x.N == 0 {
			return "—"
		}
		return fmt.Sprintf("%.3f [%.3f, %.3f]", x.Share.Value, x.Share.Lo, x.Share.Hi)
	}
	c := func(f func(Report) string) string {
		if ceiling == nil {
			return ""
		}
		return " " + f(*ceiling) + " |"
	}
	head, rule := "| measure | edits |", "|---|---|"
	if ceiling != nil {
		head, rule = head+" true edits |", rule+"---|"
	}
	fmt.Fprintf(w, "%s\n%s\n", head, rule)
	fmt.Fprintf(w, "| edit success | %s |%s\n", pct(r.Success), c(func(x Report) string { return pct(x.Success) }))
	fmt.Fprintf(w, "| preservation | %s |%s\n", pct(r.Preserved), c(func(x Report) string { return pct(x.Preserved) }))
	for _, a := range Attributes() {
		k := a.String()
		fmt.Fprintf(w, "| %s changed | %s |%s\n", k, pct(r.Changed[k]), c(func(x Report) string { return pct(x.Changed[k]) }))
	}
	for _, k := range append([]string{keptDigit}, attrNames[:]...) {
		fmt.Fprintf(w, "| %s kept | %s |%s\n", k, pct(r.Kept[k]), c(func(x Report) string { return pct(x.Kept[k]) }))
	}
	fmt.Fprintf(w, "| PSNR to the true edit (dB) | %s |%s\n", r.PSNR, c(func(x Report) string { return x.PSNR.String() }))
	fmt.Fprintf(w, "| L2 to the true edit | %s |%s\n", r.L2, c(func(x Report) string { return x.L2.String() }))
	fmt.Fprintf(w, "| L1 outside the edit | %s |%s\n", r.L1Out, c(func(x Report) string { return x.L1Out.String() }))
	fmt.Fprintf(w, "\n| instructions | pairs | edit success | preservation |\n|---|---|---|---|\n")
	for _, g := range append(append([]Group(nil), r.Kinds...), r.Instructions...) {
		name := g.Name
		if in, err := Parse(name); err == nil && in.HeldOut() {
			name += " (held out)"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s |\n", name, g.Success.N, pct(g.Success), pct(g.Preserved))
	}
	return nil
}
