package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// MultiHeadAttention returns softmax(scale·Q·Kᵀ)·V computed per sample and
// head (Vaswani et al., "Attention Is All You Need", 2017). q, k and v are
// token matrices (batch·L, heads·d) holding batch sequences of L tokens; head
// h uses columns [h·d, (h+1)·d). The result has the same layout.
func MultiHeadAttention(q, k, v *G.Node, batch, heads int, scale float32) *G.Node {
	name := fmt.Sprintf("MultiHeadAttention(b=%d,h=%d,scale=%g)", batch, heads, scale)
	check := func(s []tensor.Shape) (tensor.Shape, error) {
		for i := 1; i < 3; i++ {
			if !s[i].Eq(s[0]) {
				return nil, fmt.Errorf("attention: q %v, k %v and v %v differ", s[0], s[1], s[2])
			}
		}
		if len(s[0]) != 2 || batch <= 0 || s[0][0]%batch != 0 || heads <= 0 || s[0][1]%heads != 0 {
			return nil, fmt.Errorf("attention: %v does not split into %d sequences of %d heads", s[0], batch, heads)
		}
		return s[0].Clone(), nil
	}
	kr := kernel{
		name:  name,
		in:    []int{2, 2, 2},
		out:   2,
		shape: check,
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			l, ld := s[0][0]/batch, s[0][1]
			d := ld / heads
			rows := rowStarts(l, l)
			simd.Parallel(batch*heads, 2*l*l*d, func(lo, hi int) {
				p := getScratch(l*l + simd.PackedBSize(l, d))
				defer putScratch(p)
				p, pbuf := p[:l*l], p[l*l:]
				for u := lo; u < hi; u++ {
					off := (u/heads)*l*ld + (u%heads)*d
					attnProbs(in[0][off:], in[1][off:], l, d, ld, scale, p)
					// O = P·V, reading the rows of P in place.
					vb := simd.PackB(pbuf, simd.DenseB(in[2][off:], ld, false), l, d)
					simd.GemmIndirectA(l, p, rows, vb, 0, out[off:], ld)
				}
			})
			return nil
		},
	}
	kr.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		s := ins[0].Shape().Clone()
		total := s.TotalSize()
		packed := apply(kernel{
			name: "MultiHeadAttentionBackward" + name[len("MultiHeadAttention"):],
			in:   []int{2, 2, 2, 2},
			out:  1,
			shape: func(sh []tensor.Shape) (tensor.Shape, error) {
				return tensor.Shape{3 * total}, nil
			},
			do: func(out []float32, in [][]float32, sh []tensor.Shape) error {
				q, k, v, g := in[0], in[1], in[2], in[3]
				dq, dk, dv := out[:total], out[total:2*total], out[2*total:]
				l, ld := s[0]/batch, s[1]
				d := ld / heads
				rows := rowStarts(l, l)
				simd.Parallel(batch*heads, 4*l*l*d, func(lo, hi int) {
					sc := getScratch(2*l*l + d*l + simd.PackedBSize(l, d))
					defer putScratch(sc)
					p, dp, t, kbuf := sc[:l*l], sc[l*l:2*l*l], sc[2*l*l:2*l*l+d*l], sc[2*l*l+d*l:]
					var pa simd.PackedA
					for u := lo; u < hi; u++ {
						off := (u/heads)*l*ld + (u%heads)*d
						attnProbs(q[off:], k[off:], l, d, ld, scale, p)
						// The l×l matrices P and dS are read in place, never
						// packed: products with them put them on the side
						// the kernels read directly.
						// dVᵀ = dOᵀ·P; dP = dO·Vᵀ.
						pa.Pack(g[off:], ld, true, d, l, 1)
						simd.GemmIndirect(&pa, p, rows, l, 0, t, l)
						transposeInto(dv[off:], ld, t, d, l)
						simd.SgemmSerial(false, true, l, l, d, 1, g[off:], ld, v[off:], ld, 0, dp, l)
						// dS = P ⊙ (dP − rowsum(dP ⊙ P)), folded with the scale.
						for i := 0; i < l; i++ {
							simd.SoftmaxGrad(dp[i*l:(i+1)*l], p[i*l:(i+1)*l], scale)
						}
						// dQ = dS·K; dKᵀ = Qᵀ·dS.
						kb := simd.PackB(kbuf, simd.DenseB(k[off:], ld, false), l, d)
						simd.GemmIndirectA(l, dp, rows, kb, 0, dq[off:], ld)
						pa.Pack(q[off:], ld, true, d, l, 1)
						simd.GemmIndirect(&pa, dp, rows, l, 0, t, l)
						transposeInto(dk[off:], ld, t, d, l)
					}
				})
				return nil
			},
		}, ins[0], ins[1], ins[2], grad)
		return G.Nodes{unpack(packed, 0, s), unpack(packed, total, s), unpack(packed, 2*total, s)}, nil
	}
	return apply(kr, q, k, v)
}

// attnProbs writes the l×l row-softmax of scale·Q·Kᵀ into p, for a head whose
// rows are d wide with leading dimension ld in q and k.
func attnProbs(q, k []float32, l, d, ld int, scale float32, p []float32) {
	simd.SgemmSerial(false, true, l, l, d, scale, q, ld, k, ld, 0, p, l)
	for i := 0; i < l; i++ {
		simd.Softmax(p[i*l : (i+1)*l])
	}
}

// rowStarts returns the offsets of n rows of a row-major matrix with the
// given stride.
func rowStarts(n, stride int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i * stride
	}
	return out
}

// transposeInto writes the transpose of the r×c matrix t into dst, whose
// rows are ld apart (c rows of r values).
func transposeInto(dst []float32, ld int, t []float32, r, c int) {
	for j := 0; j < c; j++ {
		row := dst[j*ld : j*ld+r]
		for i := range row {
			row[i] = t[i*c+j]
		}
	}
}
