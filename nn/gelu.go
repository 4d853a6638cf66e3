package nn

import "math"

// Float32 GELU for the transformer blocks' feed-forward layers, where the
// float64 math.Erf and math.Exp of a straightforward GELU took a quarter of
// a training step. erf follows Abramowitz & Stegun 7.1.26 (absolute error
// below 1.5e-7, under float32's resolution of GELU's values), and its
// e^(−x²/2) serves the derivative's Gaussian density too.

// expNeg returns e^v for v ≤ 0 in float32: v = n·ln2 + r with |r| ≤ ln2/2,
// e^r by Cephes' degree-5 polynomial, times 2^n.
func expNeg(v float32) float32 {
	if v < -87 {
		return 0
	}
	n := float32(-int32(0.5 - v*1.44269504088896341)) // round(v·log₂e), v ≤ 0
	r := v - n*0.693359375 - n*-2.12194440e-4
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	e := 1 + r + r*r*p
	return e * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// gelu32 returns GELU(x) = x·Φ(x) and its derivative Φ(x) + x·φ(x).
func gelu32(x float32) (f, df float32) {
	const (
		p  = 0.3275911
		a1 = 0.254829592
		a2 = -0.284496736
		a3 = 1.421413741
		a4 = -1.453152027
		a5 = 1.061405429
	)
	switch {
	case x < -10: // |GELU| < 1e-22 and its derivative < 1e-21 here
		return 0, 0
	case x > 10:
		return x, 1
	}
	z := x * (1 / math.Sqrt2)
	az := z
	if az < 0 {
		az = -az
	}
	t := 1 / (1 + p*az)
	e := expNeg(-z * z) // e^(−x²/2)
	erf := 1 - (((((a5*t+a4)*t+a3)*t+a2)*t+a1)*t)*e
	if z < 0 {
		erf = -erf
	}
	phi := 0.5 * (1 + erf)
	return x * phi, phi + x*e*(1/float32(2.5066282746310002)) // √(2π)
}
