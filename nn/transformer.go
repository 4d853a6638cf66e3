package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// The ops of transformer blocks (Vaswani et al., "Attention Is All You
// Need", 2017) as diffusers' Transformer2DModel and transformers'
// CLIPTextModel use them: layer normalisation, GELU and its gated and
// quick variants, and attention between two sequences with a key bias and
// an optional causal mask. Tokens are rows of (rows, channels) matrices.

// LayerNorm returns (x − mean)/√(var + eps)·gamma + beta over the last
// axis of x (rows, C) (Ba, Kiros & Hinton, "Layer Normalization", 2016),
// with statistics in float64 and the biased variance, as PyTorch's
// nn.LayerNorm. gamma and beta have shape (C).
func LayerNorm(x, gamma, beta *G.Node, eps float64) *G.Node {
	name := fmt.Sprintf("LayerNorm(eps=%g)", eps)
	check := func(s []tensor.Shape) (tensor.Shape, error) {
		if len(s[0]) != 2 || len(s[1]) != 1 || len(s[2]) != 1 || s[1][0] != s[0][1] || s[2][0] != s[0][1] {
			return nil, fmt.Errorf("layernorm: x %v with weight %v and bias %v", s[0], s[1], s[2])
		}
		return s[0].Clone(), nil
	}
	k := kernel{name: name, in: []int{2, 1, 1}, out: 2, shape: check,
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			rows, c := s[0][0], s[0][1]
			simd.Parallel(rows, 8*c, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					xs, ys := in[0][r*c:(r+1)*c], out[r*c:(r+1)*c]
					mean, rstd := simd.MeanRstd(xs, eps)
					for j, v := range xs {
						ys[j] = float32((float64(v)-mean)*rstd)*in[1][j] + in[2][j]
					}
				}
			})
			return nil
		}}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		xs := ins[0].Shape().Clone()
		rows, c := xs[0], xs[1]
		n := rows * c
		packed := apply(kernel{name: "LayerNormBackward" + name[len("LayerNorm"):], in: []int{2, 1, 2}, out: 1,
			shape: func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{n + 2*c}, nil },
			do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
				layerNormBackward(in[0], in[1], in[2], out[:n], out[n:n+c], out[n+c:], rows, c, eps)
				return nil
			}}, ins[0], ins[1], grad)
		return G.Nodes{unpack(packed, 0, xs), unpack(packed, n, tensor.Shape{c}), unpack(packed, n+c, tensor.Shape{c})}, nil
	}
	return apply(k, x, gamma, beta)
}

// layerNormBackward writes the gradients of LayerNorm with respect to x,
// gamma and beta. The gamma and beta sums run over rows in order (per row
// into float64, then reduced row by row), so they do not depend on how the
// rows are split across cores.
func layerNormBackward(x, gamma, gy, dx, dgamma, dbeta []float32, rows, c int, eps float64) {
	dg := make([]float64, rows*c)
	db := make([]float64, rows*c)
	simd.Parallel(rows, 16*c, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xs, g := x[r*c:(r+1)*c], gy[r*c:(r+1)*c]
			mean, rstd := simd.MeanRstd(xs, eps)
			var sumD, sumDX float64
			for j, v := range xs {
				xh := (float64(v) - mean) * rstd
				d := float64(g[j]) * float64(gamma[j])
				sumD += d
				sumDX += d * xh
				dg[r*c+j] = float64(g[j]) * xh
				db[r*c+j] = float64(g[j])
			}
			m := float64(c)
			for j, v := range xs {
				xh := (float64(v) - mean) * rstd
				d := float64(g[j]) * float64(gamma[j])
				dx[r*c+j] = float32(rstd * (d - sumD/m - xh*sumDX/m))
			}
		}
	})
	for j := 0; j < c; j++ {
		var sg, sb float64
		for r := 0; r < rows; r++ {
			sg += dg[r*c+j]
			sb += db[r*c+j]
		}
		dgamma[j], dbeta[j] = float32(sg), float32(sb)
	}
}

// Activations of transformer feed-forward layers.
const (
	// ActGELU is the exact GELU, x·Φ(x) (Hendrycks & Gimpel, 2016).
	ActGELU = "gelu"
	// ActQuickGELU is CLIP's approximation x·σ(1.702·x).
	ActQuickGELU = "quick_gelu"
)

// activation returns f(v) and f'(v) of a named activation.
func activation(act string) (func(float64) float64, func(float64) float64, error) {
	switch act {
	case ActGELU:
		return func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) },
			func(v float64) float64 {
				return 0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi)
			}, nil
	case ActQuickGELU:
		return func(v float64) float64 { return v / (1 + math.Exp(-1.702*v)) },
			func(v float64) float64 {
				s := 1 / (1 + math.Exp(-1.702*v))
				return s + 1.702*v*s*(1-s)
			}, nil
	}
	return nil, nil, fmt.Errorf("activation %q is not gelu or quick_gelu", act)
}

// Activation applies a named activation (ActGELU, ActQuickGELU)
// elementwise. It panics on an unknown name (a programmer's mistake; configs
// check theirs).
func Activation(x *G.Node, act string) *G.Node {
	f, df, err := activation(act)
	if err != nil {
		panic(err)
	}
	dims := x.Shape().Dims()
	k := kernel{name: "Activation(" + act + ")", in: []int{dims}, out: dims, shape: sameShape(act),
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			simd.Parallel(len(out), 32, func(lo, hi int) {
				if act == ActGELU {
					for i := lo; i < hi; i++ {
						out[i], _ = gelu32(in[0][i])
					}
					return
				}
				for i := lo; i < hi; i++ {
					out[i] = float32(f(float64(in[0][i])))
				}
			})
			return nil
		}}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{name: "ActivationBackward(" + act + ")", in: []int{dims, dims}, out: dims, shape: sameShape(act),
			do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
				simd.Parallel(len(out), 48, func(lo, hi int) {
					if act == ActGELU {
						for i := lo; i < hi; i++ {
							_, d := gelu32(in[0][i])
							out[i] = d * in[1][i]
						}
						return
					}
					for i := lo; i < hi; i++ {
						out[i] = float32(df(float64(in[0][i])) * float64(in[1][i]))
					}
				})
				return nil
			}}, ins[0], grad)}, nil
	}
	return apply(k, x)
}

// GEGLU returns hidden·gelu(gate) for x (rows, 2D) split into its first D
// columns (hidden) and its last D (gate) (Shazeer, "GLU Variants Improve
// Transformer", 2020), as diffusers' GEGLU feed-forward does: (rows, D).
func GEGLU(x *G.Node) *G.Node {
	check := func(s []tensor.Shape) (tensor.Shape, error) {
		if len(s[0]) != 2 || s[0][1]%2 != 0 {
			return nil, fmt.Errorf("geglu: input %v is not (rows, 2·D)", s[0])
		}
		return tensor.Shape{s[0][0], s[0][1] / 2}, nil
	}
	k := kernel{name: "GEGLU", in: []int{2}, out: 2, shape: check,
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			rows, d := s[0][0], s[0][1]/2
			simd.Parallel(rows, 32*d, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					x := in[0][r*2*d : (r+1)*2*d]
					for j := 0; j < d; j++ {
						g, _ := gelu32(x[d+j])
						out[r*d+j] = x[j] * g
					}
				}
			})
			return nil
		}}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{name: "GEGLUBackward", in: []int{2, 2}, out: 2,
			shape: func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
			do: func(out []float32, in [][]float32, s []tensor.Shape) error {
				rows, d := s[0][0], s[0][1]/2
				simd.Parallel(rows, 48*d, func(lo, hi int) {
					for r := lo; r < hi; r++ {
						x, g, o := in[0][r*2*d:(r+1)*2*d], in[1][r*d:(r+1)*d], out[r*2*d:(r+1)*2*d]
						for j := 0; j < d; j++ {
							f, df := gelu32(x[d+j])
							o[j] = g[j] * f
							o[d+j] = g[j] * x[j] * df
						}
					}
				})
				return nil
			}}, ins[0], grad)}, nil
	}
	return apply(k, x)
}

// Attention returns softmax(scale·Q·Kᵀ + bias)·V per sequence and head: q
// is (batch·Lq, heads·d), k and v are (batch·Lk, heads·d), bias is
// (batch, Lk), added to every query's scores against each key (0 keeps a
// key; a large negative value masks it), and causal masks key j for query
// i < j (Lq = Lk). Head h uses columns [h·d, (h+1)·d). The result has q's
// layout. bias takes no gradient. It is self-attention with q, k and v of
// one sequence, cross-attention with k and v of another (diffusers'
// attn2 on encoder_hidden_states).
func Attention(q, k, v, bias *G.Node, batch, heads int, scale float32, causal bool) *G.Node {
	name := fmt.Sprintf("Attention(b=%d,h=%d,scale=%g,causal=%t)", batch, heads, scale, causal)
	check := func(s []tensor.Shape) (tensor.Shape, error) {
		q, k, v, b := s[0], s[1], s[2], s[3]
		if len(q) != 2 || len(k) != 2 || !k.Eq(v) || q[1] != k[1] || batch <= 0 || heads <= 0 || q[1]%heads != 0 ||
			q[0]%batch != 0 || k[0]%batch != 0 {
			return nil, fmt.Errorf("attention: q %v, k %v, v %v do not split into %d sequences of %d heads", q, k, v, batch, heads)
		}
		if len(b) != 2 || b[0] != batch || b[1] != k[0]/batch {
			return nil, fmt.Errorf("attention: bias %v for %d sequences of %d keys", b, batch, k[0]/batch)
		}
		if causal && q[0] != k[0] {
			return nil, fmt.Errorf("attention: causal mask with %d queries and %d keys", q[0], k[0])
		}
		return q.Clone(), nil
	}
	dims := func(s []tensor.Shape) (lq, lk, ld, d int) {
		return s[0][0] / batch, s[1][0] / batch, s[0][1], s[0][1] / heads
	}
	kr := kernel{name: name, in: []int{2, 2, 2, 2}, out: 2, shape: check, wrt: []bool{true, true, true, false},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			lq, lk, ld, d := dims(s)
			simd.Parallel(batch*heads, 2*lq*lk*d, func(lo, hi int) {
				p := getScratch(lq * lk)
				defer putScratch(p)
				for u := lo; u < hi; u++ {
					b, h := u/heads, u%heads
					qo, ko := b*lq*ld+h*d, b*lk*ld+h*d
					scores(in[0][qo:], in[1][ko:], in[3][b*lk:(b+1)*lk], lq, lk, d, ld, scale, causal, p)
					simd.SgemmSerial(false, false, lq, d, lk, 1, p, lk, in[2][ko:], ld, 0, out[qo:], ld)
				}
			})
			return nil
		}}
	kr.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		qs, ks := ins[0].Shape().Clone(), ins[1].Shape().Clone()
		nq, nk := qs.TotalSize(), ks.TotalSize()
		packed := apply(kernel{name: "AttentionBackward" + name[len("Attention"):], in: []int{2, 2, 2, 2, 2}, out: 1,
			shape: func([]tensor.Shape) (tensor.Shape, error) { return tensor.Shape{nq + 2*nk}, nil },
			do: func(out []float32, in [][]float32, s []tensor.Shape) error {
				q, k, v, bias, g := in[0], in[1], in[2], in[3], in[4]
				dq, dk, dv := out[:nq], out[nq:nq+nk], out[nq+nk:]
				lq, lk, ld, d := dims(s)
				simd.Parallel(batch*heads, 5*lq*lk*d, func(lo, hi int) {
					sc := getScratch(2 * lq * lk)
					defer putScratch(sc)
					p, dp := sc[:lq*lk], sc[lq*lk:]
					for u := lo; u < hi; u++ {
						b, h := u/heads, u%heads
						qo, ko := b*lq*ld+h*d, b*lk*ld+h*d
						scores(q[qo:], k[ko:], bias[b*lk:(b+1)*lk], lq, lk, d, ld, scale, causal, p)
						// dV = Pᵀ·dO; dP = dO·Vᵀ.
						simd.SgemmSerial(true, false, lk, d, lq, 1, p, lk, g[qo:], ld, 0, dv[ko:], ld)
						simd.SgemmSerial(false, true, lq, lk, d, 1, g[qo:], ld, v[ko:], ld, 0, dp, lk)
						// dS = P ⊙ (dP − rowsum(dP ⊙ P)), with the scale.
						for i := 0; i < lq; i++ {
							simd.SoftmaxGrad(dp[i*lk:(i+1)*lk], p[i*lk:(i+1)*lk], scale)
						}
						// dQ = dS·K; dK = dSᵀ·Q.
						simd.SgemmSerial(false, false, lq, d, lk, 1, dp, lk, k[ko:], ld, 0, dq[qo:], ld)
						simd.SgemmSerial(true, false, lk, d, lq, 1, dp, lk, q[qo:], ld, 0, dk[ko:], ld)
					}
				})
				return nil
			}}, ins[0], ins[1], ins[2], ins[3], grad)
		return G.Nodes{unpack(packed, 0, qs), unpack(packed, nq, ks), unpack(packed, nq+nk, ks), nil}, nil
	}
	return apply(kr, q, k, v, bias)
}

// scores writes the lq×lk row-softmax of scale·Q·Kᵀ + bias (and the causal
// mask) of one head into p; q and k rows are d wide with stride ld.
func scores(q, k, bias []float32, lq, lk, d, ld int, scale float32, causal bool, p []float32) {
	simd.SgemmSerial(false, true, lq, lk, d, scale, q, ld, k, ld, 0, p, lk)
	ninf := float32(math.Inf(-1))
	for i := 0; i < lq; i++ {
		row := p[i*lk : (i+1)*lk]
		for j, b := range bias {
			row[j] += b
			if causal && j > i {
				row[j] = ninf
			}
		}
		simd.Softmax(row)
	}
}

// Lookup returns rows idx of table (V, D): (len, D), the token embedding
// of a text encoder. idx holds row numbers as float32 values (a graph
// input); rows outside the table are an error. The gradient with respect
// to the table adds each output row's gradient into its row, in order.
func Lookup(table, idx *G.Node) *G.Node {
	check := func(s []tensor.Shape) (tensor.Shape, error) {
		if len(s[0]) != 2 || len(s[1]) != 1 {
			return nil, fmt.Errorf("lookup: table %v and indices %v", s[0], s[1])
		}
		return tensor.Shape{s[1][0], s[0][1]}, nil
	}
	k := kernel{name: "Lookup", in: []int{2, 1}, out: 2, shape: check, wrt: []bool{true, false},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			v, d := s[0][0], s[0][1]
			for i, f := range in[1] {
				r := int(f)
				if float32(r) != f || r < 0 || r >= v {
					return fmt.Errorf("lookup: index %v at %d is not a row of a table of %d", f, i, v)
				}
				copy(out[i*d:(i+1)*d], in[0][r*d:(r+1)*d])
			}
			return nil
		}}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		ts := ins[0].Shape().Clone()
		return G.Nodes{apply(kernel{name: "LookupBackward", in: []int{1, 2}, out: 2,
			shape: func([]tensor.Shape) (tensor.Shape, error) { return ts.Clone(), nil },
			do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
				d := ts[1]
				clear(out)
				for i, f := range in[0] {
					r := int(f)
					dst, g := out[r*d:(r+1)*d], in[1][i*d:(i+1)*d]
					for j := range dst {
						dst[j] += g[j]
					}
				}
				return nil
			}}, ins[1], grad), nil}, nil
	}
	return apply(k, table, idx)
}
