package metrics

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Proportion returns the share k/n of successes with the exact 95%
// interval of Clopper and Pearson ("The use of confidence or fiducial
// limits illustrated in the case of the binomial", Biometrika 1934): the
// 2.5% quantile of Beta(k, n−k+1) and the 97.5% quantile of Beta(k+1, n−k),
// 0 at k = 0 and 1 at k = n. It never leaves [0, 1], has a width at 0% and
// 100% (4 of 4 gives [0.40, 1]), and covers the true share at least 95% of
// the time for every n and share (TestProportionCoverage measures it).
func Proportion(k, n int) (Interval, error) {
	if n <= 0 || k < 0 || k > n {
		return Interval{}, fmt.Errorf("proportion: %d of %d", k, n)
	}
	iv := Interval{Value: float64(k) / float64(n), Lo: 0, Hi: 1}
	if k > 0 {
		iv.Lo = distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(0.025)
	}
	if k < n {
		iv.Hi = distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(0.975)
	}
	return iv, nil
}

// Hits returns the Proportion of the true values in hits.
func Hits(hits []bool) (Interval, error) {
	k := 0
	for _, h := range hits {
		if h {
			k++
		}
	}
	return Proportion(k, len(hits))
}

// Percentile returns stat on all n items with the 95% percentile bootstrap
// interval: the 2.5% and 97.5% quantiles of stat over reps resamples with
// replacement, drawn from seed (Efron & Tibshirani, "An Introduction to the
// Bootstrap", 1993, ch. 13). The interval stays inside the range the
// statistic can take (a mean of values in [0, 1] inside [0, 1], a mean
// distance above 0), which the normal interval of Bootstrap does not.
func Percentile(n, reps int, seed uint64, stat func(idx []int) (float64, error)) (Interval, error) {
	v, xs, err := resample(n, reps, seed, stat)
	if err != nil {
		return Interval{}, err
	}
	slices.Sort(xs)
	q := func(p float64) float64 { // linear interpolation between order statistics
		h := p * float64(reps-1)
		i := int(h)
		if i+1 >= reps {
			return xs[reps-1]
		}
		return xs[i] + (h-float64(i))*(xs[i+1]-xs[i])
	}
	return Interval{Value: v, Lo: q(0.025), Hi: q(0.975)}, nil
}
