package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Features is a set of n feature vectors of dimension Dim, row-major.
type Features struct {
	N, Dim int
	X      []float32
}

// Stats are the mean and covariance of a feature set, the Gaussian that the
// Fréchet distance compares.
type Stats struct {
	Mean []float64
	Cov  *mat.SymDense
	N    int

	root *mat.Dense // Cov^½, once WithRoot has computed it
}

// WithRoot returns the statistics with the square root of their covariance
// computed, so that FrechetDistance against them (a fixed reference set, say)
// costs one eigenvalue decomposition instead of two.
func (s Stats) WithRoot() (Stats, error) {
	if s.root != nil {
		return s, nil
	}
	r, err := sqrtSym(s.Cov)
	if err != nil {
		return s, err
	}
	s.root = r
	return s, nil
}

// ComputeStats returns the mean and the unbiased covariance of features.
func ComputeStats(f Features) (Stats, error) {
	if f.N < 2 {
		return Stats{}, fmt.Errorf("statistics need at least 2 samples, have %d", f.N)
	}
	d := f.Dim
	mean := make([]float64, d)
	for i := 0; i < f.N; i++ {
		for j, v := range f.X[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(f.N)
	}
	c := mat.NewDense(f.N, d, nil)
	for i := 0; i < f.N; i++ {
		for j, v := range f.X[i*d : (i+1)*d] {
			c.Set(i, j, float64(v)-mean[j])
		}
	}
	cov := mat.NewSymDense(d, nil)
	cov.SymOuterK(1/float64(f.N-1), c.T())
	return Stats{Mean: mean, Cov: cov, N: f.N}, nil
}

// FrechetDistance returns ‖μ₁−μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½), the Fréchet
// distance between two Gaussians (Heusel et al., "GANs Trained by a Two
// Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS
// 2017). tr((Σ₁Σ₂)^½) is computed as the sum of the square roots of the
// eigenvalues of the symmetric Σ₁^½·Σ₂·Σ₁^½ (or Σ₂^½·Σ₁·Σ₂^½ when b carries
// its root: the two have the same eigenvalues).
func FrechetDistance(a, b Stats) (float64, error) {
	d := len(a.Mean)
	if len(b.Mean) != d {
		return 0, fmt.Errorf("frechet: dimensions %d and %d differ", d, len(b.Mean))
	}
	var diff float64
	for j := range a.Mean {
		x := a.Mean[j] - b.Mean[j]
		diff += x * x
	}
	root, other := a.root, b.Cov
	if root == nil && b.root != nil {
		root, other = b.root, a.Cov
	}
	if root == nil {
		var err error
		if root, err = sqrtSym(a.Cov); err != nil {
			return 0, err
		}
	}
	var m, t mat.Dense
	m.Mul(root, other)
	t.Mul(&m, root)
	sym := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			sym.SetSym(i, j, (t.At(i, j)+t.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(sym, false) {
		return 0, fmt.Errorf("frechet: eigen-decomposition failed")
	}
	var trSqrt float64
	for _, v := range eig.Values(nil) {
		trSqrt += math.Sqrt(math.Max(v, 0))
	}
	return diff + mat.Trace(a.Cov) + mat.Trace(b.Cov) - 2*trSqrt, nil
}

// sqrtSym returns the symmetric square root of a positive semi-definite
// matrix (negative eigenvalues from rounding are clipped to 0).
func sqrtSym(s *mat.SymDense) (*mat.Dense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(s, true) {
		return nil, fmt.Errorf("frechet: eigen-decomposition failed")
	}
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	d := len(vals)
	scaled := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			scaled.Set(i, j, v.At(i, j)*math.Sqrt(math.Max(vals[j], 0)))
		}
	}
	var out mat.Dense
	out.Mul(scaled, v.T())
	return &out, nil
}

// MMDPoly returns the unbiased estimate of the squared maximum mean
// discrepancy between feature sets x and y under the cubic polynomial kernel
// k(a,b) = (a·b/d + 1)³, the estimator behind the kernel inception distance
// (Bińkowski et al., "Demystifying MMD GANs", ICLR 2018).
func MMDPoly(x, y Features) float64 {
	d := float64(x.Dim)
	k := func(a, b []float32) float64 {
		var s float64
		for i, v := range a {
			s += float64(v) * float64(b[i])
		}
		s = s/d + 1
		return s * s * s
	}
	row := func(f Features, i int) []float32 { return f.X[i*f.Dim : (i+1)*f.Dim] }
	var kxx, kyy, kxy float64
	for i := 0; i < x.N; i++ {
		for j := i + 1; j < x.N; j++ {
			kxx += 2 * k(row(x, i), row(x, j))
		}
	}
	for i := 0; i < y.N; i++ {
		for j := i + 1; j < y.N; j++ {
			kyy += 2 * k(row(y, i), row(y, j))
		}
	}
	for i := 0; i < x.N; i++ {
		for j := 0; j < y.N; j++ {
			kxy += k(row(x, i), row(y, j))
		}
	}
	m, n := float64(x.N), float64(y.N)
	return kxx/(m*(m-1)) + kyy/(n*(n-1)) - 2*kxy/(m*n)
}

// KID returns the kernel inception distance: the mean and standard
// deviation of MMDPoly over subsets random subsets of size (drawn from
// seed) of each set, as clean-fid and torchmetrics compute it.
func KID(x, y Features, subsets, size int, seed uint64) (mean, std float64, err error) {
	size = min(size, x.N, y.N)
	if size < 2 || subsets < 1 {
		return 0, 0, fmt.Errorf("kid: subsets of %d from %d and %d samples", size, x.N, y.N)
	}
	rng := rand.New(rand.NewPCG(seed, 0x4b1d))
	pick := func(f Features) Features {
		idx := rng.Perm(f.N)[:size]
		out := Features{N: size, Dim: f.Dim, X: make([]float32, 0, size*f.Dim)}
		for _, i := range idx {
			out.X = append(out.X, f.X[i*f.Dim:(i+1)*f.Dim]...)
		}
		return out
	}
	vals := make([]float64, subsets)
	for s := range vals {
		vals[s] = MMDPoly(pick(x), pick(y))
		mean += vals[s]
	}
	mean /= float64(subsets)
	for _, v := range vals {
		std += (v - mean) * (v - mean)
	}
	if subsets > 1 {
		std = math.Sqrt(std / float64(subsets-1))
	}
	return mean, std, nil
}

// Interval is an estimate with a 95% confidence interval.
type Interval struct {
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// String formats the value and its interval.
func (iv Interval) String() string {
	return fmt.Sprintf("%.4g [%.4g, %.4g]", iv.Value, iv.Lo, iv.Hi)
}

// Bootstrap returns stat on all n items with a 95% interval of ±1.96
// bootstrap standard errors: the standard deviation of stat over reps
// resamples with replacement, drawn from seed (Efron & Tibshirani, "An
// Introduction to the Bootstrap", 1993, ch. 13). The normal interval is used
// rather than percentiles because statistics like FID are biased under
// resampling (duplicated samples shrink the covariance estimate), which
// shifts the percentiles away from the estimate; the spread is still a fair
// measure of its uncertainty.
func Bootstrap(n, reps int, seed uint64, stat func(idx []int) (float64, error)) (Interval, error) {
	v, xs, err := resample(n, reps, seed, stat)
	if err != nil {
		return Interval{}, err
	}
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	mean := sum / float64(reps)
	sd := math.Sqrt(math.Max(sq/float64(reps)-mean*mean, 0) * float64(reps) / float64(reps-1))
	return Interval{Value: v, Lo: v - 1.96*sd, Hi: v + 1.96*sd}, nil
}

// resample returns stat on all n items and on reps resamples of them with
// replacement, drawn from seed: what Bootstrap and Percentile summarise.
func resample(n, reps int, seed uint64, stat func(idx []int) (float64, error)) (float64, []float64, error) {
	if n < 1 || reps < 2 {
		return 0, nil, fmt.Errorf("bootstrap: %d items, %d resamples", n, reps)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	v, err := stat(all)
	if err != nil {
		return 0, nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0xb007))
	xs := make([]float64, reps)
	idx := make([]int, n)
	for r := range xs {
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		if xs[r], err = stat(idx); err != nil {
			return 0, nil, err
		}
	}
	return v, xs, nil
}

// Subset returns the feature rows idx (with repetition).
func (f Features) Subset(idx []int) Features {
	out := Features{N: len(idx), Dim: f.Dim, X: make([]float32, 0, len(idx)*f.Dim)}
	for _, i := range idx {
		out.X = append(out.X, f.X[i*f.Dim:(i+1)*f.Dim]...)
	}
	return out
}

// FrechetToReference returns the Fréchet distance between the Gaussian of
// the features f (mean and unbiased covariance) and reference statistics
// that carry their covariance's root (WithRoot). It equals
// FrechetDistance(ComputeStats(f), ref) and is much cheaper for n samples
// of dimension d: with X the centred n×d features and R = Σ_ref^½,
// tr((Σ Σ_ref)^½) is the sum of the square roots of the eigenvalues of
// R·XᵀX·R/(n−1), whose non-zero eigenvalues are those of the n×n
// (XR)(XR)ᵀ/(n−1) when n < d.
func FrechetToReference(f Features, ref Stats) (float64, error) {
	if ref.root == nil {
		return 0, fmt.Errorf("frechet: reference statistics without their root (use WithRoot)")
	}
	d, n := f.Dim, f.N
	if len(ref.Mean) != d {
		return 0, fmt.Errorf("frechet: dimensions %d and %d differ", d, len(ref.Mean))
	}
	if n < 2 {
		return 0, fmt.Errorf("statistics need at least 2 samples, have %d", n)
	}
	mean := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range f.X[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	var diff float64
	for j := range mean {
		mean[j] /= float64(n)
		x := mean[j] - ref.Mean[j]
		diff += x * x
	}
	x := mat.NewDense(n, d, nil)
	var tr float64
	for i := 0; i < n; i++ {
		for j, v := range f.X[i*d : (i+1)*d] {
			c := float64(v) - mean[j]
			x.Set(i, j, c)
			tr += c * c
		}
	}
	tr /= float64(n - 1)
	var y mat.Dense
	y.Mul(x, ref.root)
	k := min(n, d)
	g := mat.NewSymDense(k, nil)
	if n < d {
		g.SymOuterK(1/float64(n-1), &y)
	} else {
		g.SymOuterK(1/float64(n-1), y.T())
	}
	var eig mat.EigenSym
	if !eig.Factorize(g, false) {
		return 0, fmt.Errorf("frechet: eigen-decomposition failed")
	}
	var trSqrt float64
	for _, v := range eig.Values(nil) {
		trSqrt += math.Sqrt(math.Max(v, 0))
	}
	return diff + tr + mat.Trace(ref.Cov) - 2*trSqrt, nil
}
