package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// MatMul returns op(a)·op(b) for matrices, where op transposes when ta or tb
// is set.
func MatMul(a, b *G.Node, ta, tb bool) *G.Node {
	dims := func(s tensor.Shape, t bool) (int, int) {
		if t {
			return s[1], s[0]
		}
		return s[0], s[1]
	}
	k := kernel{
		name: fmt.Sprintf("MatMul(%t,%t)", ta, tb),
		in:   []int{2, 2},
		out:  2,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if len(s[0]) != 2 || len(s[1]) != 2 {
				return nil, fmt.Errorf("matmul: %v and %v are not matrices", s[0], s[1])
			}
			m, ka := dims(s[0], ta)
			kb, n := dims(s[1], tb)
			if ka != kb {
				return nil, fmt.Errorf("matmul: inner sizes of %v and %v differ (transposes %t, %t)", s[0], s[1], ta, tb)
			}
			return tensor.Shape{m, n}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			m, kk := dims(s[0], ta)
			_, n := dims(s[1], tb)
			simd.Sgemm(ta, tb, m, n, kk, 1, in[0], s[0][1], in[1], s[1][1], 0, out, n)
			return nil
		},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		a, b := ins[0], ins[1]
		var da, db *G.Node
		if ta {
			da = MatMul(b, grad, tb, true)
		} else {
			da = MatMul(grad, b, false, !tb)
		}
		if tb {
			db = MatMul(grad, a, true, ta)
		} else {
			db = MatMul(a, grad, !ta, false)
		}
		return G.Nodes{da, db}, nil
	}
	return apply(k, a, b)
}

// AddBias returns x + b for x (N,D) and b (D), broadcasting over rows.
func AddBias(x, b *G.Node) *G.Node {
	k := kernel{
		name: "AddBias",
		in:   []int{2, 1},
		out:  2,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if len(s[0]) != 2 || len(s[1]) != 1 || s[0][1] != s[1][0] {
				return nil, fmt.Errorf("addbias: x %v and bias %v do not match", s[0], s[1])
			}
			return s[0].Clone(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			d := s[0][1]
			simd.Parallel(s[0][0], d, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					simd.AXPBYC(out[i*d:(i+1)*d], in[0][i*d:(i+1)*d], in[1], 1, 1, 0)
				}
			})
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{grad, sumRows(grad)}, nil
	}
	return apply(k, x, b)
}

// sumRows sums a matrix over its rows, giving a vector.
func sumRows(x *G.Node) *G.Node {
	return apply(kernel{
		name: "SumRows",
		in:   []int{2},
		out:  1,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			return tensor.Shape{s[0][1]}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			n, d := s[0][0], s[0][1]
			acc := make([]float64, d)
			for i := 0; i < n; i++ {
				for j, v := range in[0][i*d : (i+1)*d] {
					acc[j] += float64(v)
				}
			}
			for j := range out {
				out[j] = float32(acc[j])
			}
			return nil
		},
	}, x)
}

// Linear returns x·wᵀ + b for x (N,in), w (out,in) in PyTorch's layout and
// b (out); b may be nil.
func Linear(x, w, b *G.Node) *G.Node {
	y := MatMul(x, w, false, true)
	if b == nil {
		return y
	}
	return AddBias(y, b)
}

// ToTokens turns (N,C,H,W) feature maps into a (N·H·W, C) token matrix, the
// layout attention works in.
func ToTokens(x *G.Node) *G.Node {
	s := x.Shape().Clone()
	k := kernel{
		name: "ToTokens",
		in:   []int{4},
		out:  2,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			x := in[0]
			if len(x) != 4 {
				return nil, fmt.Errorf("totokens: input %v is not 4-D", x)
			}
			return tensor.Shape{x[0] * x[2] * x[3], x[1]}, nil
		},
		do: func(out []float32, in [][]float32, sh []tensor.Shape) error {
			n, c, hw := sh[0][0], sh[0][1], sh[0][2]*sh[0][3]
			simd.Parallel(n, 2*c*hw, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					transpose(in[0][i*c*hw:(i+1)*c*hw], c, hw, out[i*c*hw:])
				}
			})
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{FromTokens(grad, s)}, nil
	}
	return apply(k, x)
}

// FromTokens turns a (N·H·W, C) token matrix back into feature maps of shape s.
func FromTokens(t *G.Node, s tensor.Shape) *G.Node {
	s = s.Clone()
	k := kernel{
		name: fmt.Sprintf("FromTokens(%v)", s),
		in:   []int{2},
		out:  4,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			if len(in[0]) != 2 || in[0][0] != s[0]*s[2]*s[3] || in[0][1] != s[1] {
				return nil, fmt.Errorf("fromtokens: %v does not hold %v", in[0], s)
			}
			return s, nil
		},
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			n, c, hw := s[0], s[1], s[2]*s[3]
			simd.Parallel(n, 2*c*hw, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					transpose(in[0][i*c*hw:(i+1)*c*hw], hw, c, out[i*c*hw:])
				}
			})
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{ToTokens(grad)}, nil
	}
	return apply(k, t)
}

// transpose writes the transpose of the r×c row-major matrix a into b.
func transpose(a []float32, r, c int, b []float32) {
	const blk = 32
	for i0 := 0; i0 < r; i0 += blk {
		i1 := min(i0+blk, r)
		for j0 := 0; j0 < c; j0 += blk {
			j1 := min(j0+blk, c)
			for i := i0; i < i1; i++ {
				row := a[i*c:]
				for j := j0; j < j1; j++ {
					b[j*r+i] = row[j]
				}
			}
		}
	}
}
