package metrics

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// kernelSums holds, for each row of a set, the sum of the cubic
// polynomial kernel k(a,b) = (a·b/d + 1)³ over the set's other rows: what
// KID's estimate and jackknife need of a reference set, computed once.
type kernelSums struct {
	Self []float64
}

// blockRows is the number of rows whose kernel values are held at once.
const blockRows = 256

// toDense converts features to a float64 matrix.
func toDense(f Features) *mat.Dense {
	d := make([]float64, len(f.X))
	for i, v := range f.X {
		d[i] = float64(v)
	}
	return mat.NewDense(f.N, f.Dim, d)
}

// polySums returns, for every row i of x, Σ_j k(x_i, y_j) over the rows
// of y (skipping j = i when same), and for every row j of y, Σ_i k(x_i,
// y_j); the kernel matrix is formed a block of rows at a time.
func polySums(x, y *mat.Dense, same bool) (rows, cols []float64) {
	m, _ := x.Dims()
	r, d := y.Dims()
	rows, cols = make([]float64, m), make([]float64, r)
	var g mat.Dense
	for lo := 0; lo < m; lo += blockRows {
		hi := min(lo+blockRows, m)
		blk := x.Slice(lo, hi, 0, d)
		g.Reset()
		g.Mul(blk, y.T())
		raw := g.RawMatrix()
		for i := 0; i < hi-lo; i++ {
			row := raw.Data[i*raw.Stride : i*raw.Stride+r]
			var s float64
			for j, v := range row {
				if same && j == lo+i {
					continue
				}
				v = v/float64(d) + 1
				v = v * v * v
				s += v
				cols[j] += v
			}
			rows[lo+i] = s
		}
	}
	return rows, cols
}

// selfSums returns kernelSums of a set with itself.
func selfSums(f Features) kernelSums {
	rows, _ := polySums(toDense(f), toDense(f), true)
	return kernelSums{Self: rows}
}

// KIDInterval returns the kernel inception distance of x to y as one
// estimate on all rows of both, the unbiased MMD² under the cubic
// polynomial kernel (Bińkowski et al., "Demystifying MMD GANs", ICLR 2018;
// the quantity KID's subset average estimates), with a 95% interval of
// ±1.96 jackknife standard errors that counts the sampling error of both
// sets: the delete-one variances over x's rows and over y's (Efron &
// Stein's jackknife, "The Jackknife Estimate of Variance", Ann. Stat.
// 1981), added. The value can be negative when the distributions agree;
// its interval then covers 0. Both sets need at least 3 rows.
func KIDInterval(x, y Features) (Interval, error) {
	if y.N < 3 {
		return Interval{}, fmt.Errorf("kid: %d reference rows, want at least 3", y.N)
	}
	return kidInterval(x, y, selfSums(y))
}

// kidInterval is KIDInterval with y's self sums given (a reference set's,
// computed once).
func kidInterval(x, y Features, ys kernelSums) (Interval, error) {
	m, r := x.N, y.N
	if m < 3 || r < 3 || x.Dim != y.Dim {
		return Interval{}, fmt.Errorf("kid: %d and %d rows of %d and %d features, want at least 3 rows each of one width", m, r, x.Dim, y.Dim)
	}
	xd := toDense(x)
	a, _ := polySums(xd, xd, true)          // a_i = Σ_{j≠i} k(x_i, x_j)
	b, c := polySums(xd, toDense(y), false) // b_i = Σ_l k(x_i, y_l), c_l = Σ_i k(x_i, y_l)
	e := ys.Self                            // e_l = Σ_{l'≠l} k(y_l, y_l')
	var sxx, sxy, syy float64
	for i := range a {
		sxx += a[i]
		sxy += b[i]
	}
	for _, v := range e {
		syy += v
	}
	fm, fr := float64(m), float64(r)
	theta := sxx/(fm*(fm-1)) + syy/(fr*(fr-1)) - 2*sxy/(fm*fr)
	jack := func(vals []float64) float64 {
		var mean float64
		for _, v := range vals {
			mean += v
		}
		mean /= float64(len(vals))
		var ss float64
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		return ss * float64(len(vals)-1) / float64(len(vals))
	}
	dx := make([]float64, m)
	for i := range dx {
		dx[i] = (sxx-2*a[i])/((fm-1)*(fm-2)) + syy/(fr*(fr-1)) - 2*(sxy-b[i])/((fm-1)*fr)
	}
	dy := make([]float64, r)
	for l := range dy {
		dy[l] = sxx/(fm*(fm-1)) + (syy-2*e[l])/((fr-1)*(fr-2)) - 2*(sxy-c[l])/(fm*(fr-1))
	}
	se := math.Sqrt(jack(dx) + jack(dy))
	return Interval{Value: theta, Lo: theta - 1.96*se, Hi: theta + 1.96*se}, nil
}
