package nn

import "math"

// TimestepEmbedding returns the sinusoidal embedding (N,dim) of timesteps t,
// row-major, as diffusers' get_timestep_embedding computes it in float32
// (Vaswani et al. 2017, used for diffusion steps by Ho et al. 2020): with
// half = dim/2 and f_i = exp(-ln(maxPeriod)·i/(half-freqShift)), the row of t
// is [sin(t·f), cos(t·f)], or [cos, sin] when flipSinToCos is set, padded
// with a zero when dim is odd.
func TimestepEmbedding(t []float64, dim int, flipSinToCos bool, freqShift float64, maxPeriod float64) []float32 {
	half := dim / 2
	freqs := make([]float32, half)
	logp := float32(-math.Log(maxPeriod))
	for i := range freqs {
		e := logp * float32(i) / float32(float64(half)-freqShift)
		freqs[i] = float32(math.Exp(float64(e)))
	}
	out := make([]float32, len(t)*dim)
	for n, tv := range t {
		row := out[n*dim : (n+1)*dim]
		for i, f := range freqs {
			arg := float64(float32(tv) * f)
			s, c := float32(math.Sin(arg)), float32(math.Cos(arg))
			if flipSinToCos {
				row[i], row[half+i] = c, s
			} else {
				row[i], row[half+i] = s, c
			}
		}
	}
	return out
}

// OneHot returns the (N,n) one-hot matrix of labels, row-major. Labels must
// lie in [0,n).
func OneHot(labels []int64, n int) []float32 {
	out := make([]float32, len(labels)*n)
	for i, l := range labels {
		out[i*n+int(l)] = 1
	}
	return out
}
