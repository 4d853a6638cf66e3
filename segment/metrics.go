package segment

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/clockwork-go/clockwork/scenes"
)

// Interval is an estimate with its 95% interval.
type Interval struct {
	// Value is the estimate on all the scenes; Lo and Hi are the 2.5 and
	// 97.5 percentiles of its bootstrap resamples.
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// Report holds a segmentation's measures over a set of scenes, with 95%
// intervals from resampling the scenes (bootstrap percentile), and, beside
// them, the separation the true masks themselves allow.
type Report struct {
	// Scenes is the number of scenes measured, Classes their classes.
	Scenes  int `json:"scenes"`
	Classes int `json:"classes"`
	// IoU and Dice per class (−1 for a class in neither mask).
	IoU  []float64 `json:"iou"`
	Dice []float64 `json:"dice"`
	// IoUCI holds each class's interval.
	IoUCI [][2]float64 `json:"iou_ci"`
	// MeanIoU is the mean over the classes present, MeanDice likewise;
	// PixelAccuracy the share of pixels of the right class.
	MeanIoU       Interval `json:"mean_iou"`
	MeanDice      Interval `json:"mean_dice"`
	PixelAccuracy Interval `json:"pixel_accuracy"`
	// Pairs is the number of touching digit pairs; Separated the share a
	// prediction keeps apart (see Separated; −1 without pairs), and TruthSeparated the
	// share the true semantic masks keep apart (the ceiling: two touching
	// digits of the same class form one region in them).
	// WrongDigit is the share of digit pixels labelled as another
	// digit, Missed the share labelled background, and Spurious the
	// share of background pixels labelled as a digit: where the errors
	// lie (the split of ink from background is in the pixels themselves;
	// which digit it is, is not).
	WrongDigit     float64  `json:"wrong_digit"`
	Missed         float64  `json:"missed"`
	Spurious       float64  `json:"spurious"`
	Pairs          int      `json:"touching_pairs"`
	Separated      Interval `json:"separated"`
	TruthSeparated float64  `json:"truth_separated"`
}

// sceneStats is what a report needs of each scene.
type sceneStats struct {
	conf      []int64 // k×k: truth row, prediction column
	pairs     int
	separated int
	truthSep  int
}

// Evaluate measures predicted masks against a set's scenes (pred holds
// Len()·Size² class ids), with boot bootstrap resamples drawn from seed.
func Evaluate(set *scenes.Set, pred []uint8, boot int, seed uint64) (Report, error) {
	n, size := set.Len(), set.Config.Size
	p := size * size
	k := scenes.Classes
	if len(pred) != n*p {
		return Report{}, fmt.Errorf("segment: %d predicted pixels for %d scenes of %d×%d", len(pred), n, size, size)
	}
	stats := make([]sceneStats, n)
	for i := range n {
		_, sem, inst := set.Scene(i)
		pr := pred[i*p : (i+1)*p]
		st := sceneStats{conf: make([]int64, k*k)}
		for j, t := range sem {
			if int(pr[j]) >= k {
				return Report{}, fmt.Errorf("segment: scene %d pixel %d: class %d out of range [0, %d)", i, j, pr[j], k)
			}
			st.conf[int(t)*k+int(pr[j])]++
		}
		pairs := scenes.TouchingPairs(inst, size)
		st.pairs = len(pairs)
		st.separated = Separated(pr, sem, inst, size, pairs)
		st.truthSep = Separated(sem, sem, inst, size, pairs)
		stats[i] = st
	}
	summary := func(idx []int) (miou, mdice, acc, sep float64, iou, dice []float64) {
		conf := make([]int64, k*k)
		pairs, separated := 0, 0
		for _, i := range idx {
			for j, v := range stats[i].conf {
				conf[j] += v
			}
			pairs += stats[i].pairs
			separated += stats[i].separated
		}
		iou, dice = make([]float64, k), make([]float64, k)
		var correct, total int64
		present := 0
		for c := range k {
			var tp, fp, fn int64
			tp = conf[c*k+c]
			for o := range k {
				if o != c {
					fn += conf[c*k+o]
					fp += conf[o*k+c]
				}
			}
			correct += tp
			total += tp + fn
			if tp+fp+fn == 0 {
				iou[c], dice[c] = math.NaN(), math.NaN()
				continue
			}
			iou[c] = float64(tp) / float64(tp+fp+fn)
			dice[c] = 2 * float64(tp) / float64(2*tp+fp+fn)
			miou += iou[c]
			mdice += dice[c]
			present++
		}
		miou /= float64(present)
		mdice /= float64(present)
		acc = float64(correct) / float64(total)
		sep = math.NaN()
		if pairs > 0 {
			sep = float64(separated) / float64(pairs)
		}
		return
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	r := Report{Scenes: n, Classes: k}
	miou, mdice, acc, sep, iou, dice := summary(all)
	r.IoU, r.Dice = iou, dice
	var digit, wrong, missed, bg, spurious int64
	for _, st := range stats {
		for t := range k {
			for q := range k {
				v := st.conf[t*k+q]
				switch {
				case t == 0:
					bg += v
					if q != 0 {
						spurious += v
					}
				case q == 0:
					digit += v
					missed += v
				default:
					digit += v
					if q != t {
						wrong += v
					}
				}
			}
		}
	}
	if digit > 0 {
		r.WrongDigit, r.Missed = float64(wrong)/float64(digit), float64(missed)/float64(digit)
	}
	if bg > 0 {
		r.Spurious = float64(spurious) / float64(bg)
	}
	truthSep := 0
	for _, s := range stats {
		r.Pairs += s.pairs
		truthSep += s.truthSep
	}
	if r.Pairs > 0 {
		r.TruthSeparated = float64(truthSep) / float64(r.Pairs)
	}
	var bm, bd, ba, bs []float64
	bi := make([][]float64, k)
	rng := rand.New(rand.NewPCG(seed, 0x626f6f74)) // "boot"
	idx := make([]int, n)
	for range boot {
		for j := range idx {
			idx[j] = rng.IntN(n)
		}
		m, d, a, s, io, _ := summary(idx)
		bm, bd, ba = append(bm, m), append(bd, d), append(ba, a)
		if !math.IsNaN(s) {
			bs = append(bs, s)
		}
		for c := range k {
			if !math.IsNaN(io[c]) {
				bi[c] = append(bi[c], io[c])
			}
		}
	}
	r.MeanIoU, r.MeanDice, r.PixelAccuracy, r.Separated = interval(miou, bm), interval(mdice, bd), interval(acc, ba), interval(sep, bs)
	r.IoUCI = make([][2]float64, k)
	for c := range k {
		iv := interval(iou[c], bi[c])
		r.IoUCI[c] = [2]float64{iv.Lo, iv.Hi}
		if math.IsNaN(iou[c]) {
			r.IoU[c], r.Dice[c], r.IoUCI[c] = -1, -1, [2]float64{-1, -1}
		}
	}
	if math.IsNaN(r.Separated.Value) {
		r.Separated = Interval{-1, -1, -1}
	}
	return r, nil
}

// SeparationDifference returns the difference in the share of touching
// pairs kept apart between two predictions of a set's scenes (a minus
// b), with a paired bootstrap interval: each resample draws the scenes
// once for both, so the scenes' own difficulty cancels. An interval that
// excludes zero shows a difference.
func SeparationDifference(set *scenes.Set, a, b []uint8, boot int, seed uint64) (Interval, error) {
	n, size := set.Len(), set.Config.Size
	p := size * size
	if len(a) != n*p || len(b) != n*p {
		return Interval{}, fmt.Errorf("segment: %d and %d predicted pixels for %d scenes of %d×%d", len(a), len(b), n, size, size)
	}
	pairs, sa, sb := make([]int, n), make([]int, n), make([]int, n)
	for i := range n {
		_, sem, inst := set.Scene(i)
		tp := scenes.TouchingPairs(inst, size)
		pairs[i] = len(tp)
		sa[i] = Separated(a[i*p:(i+1)*p], sem, inst, size, tp)
		sb[i] = Separated(b[i*p:(i+1)*p], sem, inst, size, tp)
	}
	diff := func(idx []int) float64 {
		var np, na, nb int
		for _, i := range idx {
			np, na, nb = np+pairs[i], na+sa[i], nb+sb[i]
		}
		if np == 0 {
			return math.NaN()
		}
		return float64(na-nb) / float64(np)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	v := diff(all)
	if math.IsNaN(v) {
		return Interval{}, fmt.Errorf("segment: the %d scenes hold no touching pairs", n)
	}
	rng := rand.New(rand.NewPCG(seed, 0x70616972)) // "pair"
	idx := make([]int, n)
	var bs []float64
	for range boot {
		for j := range idx {
			idx[j] = rng.IntN(n)
		}
		if d := diff(idx); !math.IsNaN(d) {
			bs = append(bs, d)
		}
	}
	return interval(v, bs), nil
}

// String formats an interval as "value [lo, hi]" to three decimals.
func (iv Interval) String() string {
	return fmt.Sprintf("%.3f [%.3f, %.3f]", iv.Value, iv.Lo, iv.Hi)
}

// interval returns v with the 2.5 and 97.5 percentiles of its resamples
// (v itself at both ends when there are none).
func interval(v float64, boot []float64) Interval {
	iv := Interval{Value: v, Lo: v, Hi: v}
	if len(boot) > 0 {
		s := slices.Clone(boot)
		slices.Sort(s)
		iv.Lo = s[int(0.025*float64(len(s)-1)+0.5)]
		iv.Hi = s[int(0.975*float64(len(s)-1)+0.5)]
	}
	return iv
}

// Separated counts the touching pairs (instance ids of inst) that a
// semantic mask keeps apart: a digit is found when mask gives at least
// half of its pixels its class, its region then the 4-connected region of
// its class in mask that holds the most of them, and a pair is separated
// when both digits are found and their regions differ. Two touching digits of different classes are separated
// by any mask that classifies them right; two of the same class only by a
// gap of another class between them.
func Separated(mask, sem, inst []uint8, size int, pairs [][2]uint8) int {
	if len(pairs) == 0 {
		return 0
	}
	region := components(mask, size)
	// The region of each instance: the most frequent region among its
	// pixels labelled with its class, when they are half its pixels.
	found := map[uint8]int{}
	counts := map[uint8]map[int]int{}
	total := map[uint8]int{}
	for j, id := range inst {
		if id == 0 {
			continue
		}
		total[id]++
		if mask[j] != sem[j] {
			continue
		}
		if counts[id] == nil {
			counts[id] = map[int]int{}
		}
		counts[id][region[j]]++
	}
	for id, c := range counts {
		best, bn, right := -1, 0, 0
		for r, v := range c {
			right += v
			if v > bn || v == bn && r < best {
				best, bn = r, v
			}
		}
		if 2*right >= total[id] {
			found[id] = best
		}
	}
	n := 0
	for _, pr := range pairs {
		a, aok := found[pr[0]]
		b, bok := found[pr[1]]
		if aok && bok && a != b {
			n++
		}
	}
	return n
}

// components labels the 4-connected regions of equal non-zero class of a
// size×size mask (−1 on background).
func components(mask []uint8, size int) []int {
	region := make([]int, len(mask))
	for i := range region {
		region[i] = -1
	}
	next := 0
	stack := []int{}
	for s, c := range mask {
		if c == 0 || region[s] >= 0 {
			continue
		}
		region[s] = next
		stack = append(stack[:0], s)
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			y, x := j/size, j%size
			for _, d := range [4][2]int{{0, 1}, {0, -1}, {1, 0}, {-1, 0}} {
				ny, nx := y+d[0], x+d[1]
				if ny < 0 || nx < 0 || ny >= size || nx >= size {
					continue
				}
				o := ny*size + nx
				if mask[o] == c && region[o] < 0 {
					region[o] = next
					stack = append(stack, o)
				}
			}
		}
		next++
	}
	return region
}

// ClassName returns the name of class c of the digit scenes.
func ClassName(c int) string {
	if c == 0 {
		return "background"
	}
	return fmt.Sprintf("digit %d", c-1)
}

// WriteTable writes the report as a Markdown table.
func (r Report) WriteTable(w io.Writer) error {
	f := Interval.String
	fmt.Fprintf(w, "| measure (%d held-out scenes) | value [95%% interval] |\n|---|---|\n", r.Scenes)
	fmt.Fprintf(w, "| mean IoU | %s |\n| mean Dice | %s |\n| pixel accuracy | %s |\n", f(r.MeanIoU), f(r.MeanDice), f(r.PixelAccuracy))
	fmt.Fprintf(w, "| digit pixels labelled as another digit | %.4f |\n| digit pixels labelled background | %.4f |\n| background pixels labelled as a digit | %.4f |\n", r.WrongDigit, r.Missed, r.Spurious)
	fmt.Fprintf(w, "| touching pairs separated (%d pairs) | %s (true masks: %.3f) |\n", r.Pairs, f(r.Separated), r.TruthSeparated)
	for c := range r.Classes {
		if r.IoU[c] < 0 {
			continue
		}
		fmt.Fprintf(w, "| IoU %s | %.3f [%.3f, %.3f] |\n", ClassName(c), r.IoU[c], r.IoUCI[c][0], r.IoUCI[c][1])
	}
	return nil
}
