package nn

import (
	"fmt"
	"math"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

func sameShape(name string) func(s []tensor.Shape) (tensor.Shape, error) {
	return func(s []tensor.Shape) (tensor.Shape, error) {
		for i := 1; i < len(s); i++ {
			if !s[i].Eq(s[0]) {
				return nil, fmt.Errorf("%s: shapes %v and %v differ", name, s[0], s[i])
			}
		}
		return s[0].Clone(), nil
	}
}

// SiLU returns x·sigmoid(x) elementwise (Elfwing et al. 2018; "swish").
func SiLU(x *G.Node) *G.Node {
	dims := x.Shape().Dims()
	k := kernel{
		name:  "SiLU",
		in:    []int{dims},
		out:   dims,
		shape: sameShape("silu"),
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			simd.AffineSiLU(out, in[0], 1, 0)
			return nil
		},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{
			name:  "SiLUBackward",
			in:    []int{dims, dims},
			out:   dims,
			shape: sameShape("silu backward"),
			do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
				simd.GNBackward(out, in[1], in[0], 0, 1, 1, 0, true)
				return nil
			},
		}, ins[0], grad)}, nil
	}
	return apply(k, x)
}

// Add returns a+b for tensors of the same shape.
func Add(a, b *G.Node) *G.Node { return AddScaled(a, b, 1) }

// AddScaled returns (a+b)·s for tensors of the same shape: a residual
// connection followed by diffusers' division by output_scale_factor.
func AddScaled(a, b *G.Node, s float32) *G.Node {
	dims := a.Shape().Dims()
	k := kernel{
		name:  fmt.Sprintf("AddScaled(%g)", s),
		in:    []int{dims, dims},
		out:   dims,
		shape: sameShape("add"),
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			x, y := in[0], in[1]
			chunks(len(out), func(lo, hi int) { simd.AXPBYC(out[lo:hi], x[lo:hi], y[lo:hi], s, s, 0) })
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		if s == 1 {
			return G.Nodes{grad, grad}, nil
		}
		g := Scale(grad, s)
		return G.Nodes{g, g}, nil
	}
	return apply(k, a, b)
}

// Scale returns x·s.
func Scale(x *G.Node, s float32) *G.Node {
	dims := x.Shape().Dims()
	k := kernel{
		name:  fmt.Sprintf("Scale(%g)", s),
		in:    []int{dims},
		out:   dims,
		shape: sameShape("scale"),
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			chunks(len(out), func(lo, hi int) { simd.Affine(out[lo:hi], in[0][lo:hi], s, 0) })
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{Scale(grad, s)}, nil
	}
	return apply(k, x)
}

// AddChannel returns x + e[:, :, None, None] for x (N,C,H,W) and e (N,C):
// how a ResBlock injects its projected timestep embedding.
func AddChannel(x, e *G.Node) *G.Node {
	k := kernel{
		name: "AddChannel",
		in:   []int{4, 2},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if len(s[0]) != 4 || len(s[1]) != 2 || s[0][0] != s[1][0] || s[0][1] != s[1][1] {
				return nil, fmt.Errorf("addchannel: x %v and e %v do not match", s[0], s[1])
			}
			return s[0].Clone(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			nc, hw := s[0][0]*s[0][1], s[0][2]*s[0][3]
			simd.Parallel(nc, hw, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					simd.Affine(out[i*hw:(i+1)*hw], in[0][i*hw:(i+1)*hw], 1, in[1][i])
				}
			})
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{grad, SumHW(grad)}, nil
	}
	return apply(k, x, e)
}

// SumHW sums a (N,C,H,W) tensor over its spatial axes, giving (N,C).
func SumHW(x *G.Node) *G.Node {
	xs := x.Shape().Clone()
	k := kernel{
		name: "SumHW",
		in:   []int{4},
		out:  2,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if len(s[0]) != 4 {
				return nil, fmt.Errorf("sumhw: input %v is not 4-D", s[0])
			}
			return tensor.Shape{s[0][0], s[0][1]}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			hw := s[0][2] * s[0][3]
			simd.Parallel(len(out), hw, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					out[i] = float32(sum32(in[0][i*hw : (i+1)*hw]))
				}
			})
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{expandHW(grad, xs)}, nil
	}
	return apply(k, x)
}

// expandHW broadcasts (N,C) values over the spatial axes of shape s.
func expandHW(g *G.Node, s tensor.Shape) *G.Node {
	return apply(kernel{
		name: fmt.Sprintf("ExpandHW(%v)", s),
		in:   []int{2},
		out:  4,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			if len(in[0]) != 2 || in[0][0] != s[0] || in[0][1] != s[1] {
				return nil, fmt.Errorf("expandhw: %v does not fit %v", in[0], s)
			}
			return s, nil
		},
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			hw := s[2] * s[3]
			for i, v := range in[0] {
				fill(out[i*hw:(i+1)*hw], v)
			}
			return nil
		},
	}, g)
}

// ConcatChannels concatenates (N,Ca,H,W) and (N,Cb,H,W) along the channel
// axis, as the U-Net's skip connections do (torch.cat(dim=1)).
func ConcatChannels(a, b *G.Node) *G.Node {
	k := kernel{
		name: "ConcatChannels",
		in:   []int{4, 4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			x, y := s[0], s[1]
			if len(x) != 4 || len(y) != 4 || x[0] != y[0] || x[2] != y[2] || x[3] != y[3] {
				return nil, fmt.Errorf("concat: shapes %v and %v do not match", x, y)
			}
			return tensor.Shape{x[0], x[1] + y[1], x[2], x[3]}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			n := s[0][0]
			sa, sb := s[0][1]*s[0][2]*s[0][3], s[1][1]*s[1][2]*s[1][3]
			simd.Parallel(n, sa+sb, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					copy(out[i*(sa+sb):], in[0][i*sa:(i+1)*sa])
					copy(out[i*(sa+sb)+sa:], in[1][i*sb:(i+1)*sb])
				}
			})
			return nil
		},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		ca, cb := ins[0].Shape()[1], ins[1].Shape()[1]
		return G.Nodes{SliceChannels(grad, 0, ca), SliceChannels(grad, ca, ca+cb)}, nil
	}
	return apply(k, a, b)
}

// SliceChannels returns channels [from, to) of a (N,C,H,W) tensor.
func SliceChannels(x *G.Node, from, to int) *G.Node {
	return apply(kernel{
		name: fmt.Sprintf("SliceChannels(%d,%d)", from, to),
		in:   []int{4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			x := s[0]
			if len(x) != 4 || from < 0 || to > x[1] || from >= to {
				return nil, fmt.Errorf("slicechannels: [%d,%d) out of range for %v", from, to, x)
			}
			return tensor.Shape{x[0], to - from, x[2], x[3]}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			n, c, hw := s[0][0], s[0][1], s[0][2]*s[0][3]
			w := (to - from) * hw
			simd.Parallel(n, w, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					copy(out[i*w:(i+1)*w], in[0][(i*c+from)*hw:])
				}
			})
			return nil
		},
	}, x)
}

// Upsample2x returns the nearest-neighbour 2× upsampling of (N,C,H,W) data
// (F.interpolate(scale_factor=2, mode="nearest")).
func Upsample2x(x *G.Node) *G.Node {
	k := kernel{
		name: "Upsample2x",
		in:   []int{4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			x := s[0]
			if len(x) != 4 {
				return nil, fmt.Errorf("upsample: input %v is not 4-D", x)
			}
			return tensor.Shape{x[0], x[1], 2 * x[2], 2 * x[3]}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			nc, h, w := s[0][0]*s[0][1], s[0][2], s[0][3]
			simd.Parallel(nc, 4*h*w, func(lo, hi int) {
				for p := lo; p < hi; p++ {
					src := in[0][p*h*w : (p+1)*h*w]
					dst := out[p*4*h*w : (p+1)*4*h*w]
					for y := 0; y < h; y++ {
						r0 := dst[2*y*2*w : (2*y+1)*2*w]
						for x, v := range src[y*w : (y+1)*w] {
							r0[2*x] = v
							r0[2*x+1] = v
						}
						copy(dst[(2*y+1)*2*w:(2*y+2)*2*w], r0)
					}
				}
			})
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{sumPool2x(grad)}, nil
	}
	return apply(k, x)
}

// sumPool2x sums each 2×2 block of (N,C,2H,2W) data: the gradient of
// Upsample2x (and Upsample2x is its gradient).
func sumPool2x(x *G.Node) *G.Node { return pool2xNode(x, "SumPool2x", 1) }

// pool2xNode is the 2×2 block sum of x times scale (1: the sum pool, ¼:
// the average pool); its gradient spreads the scaled gradient back over
// each block.
func pool2xNode(x *G.Node, name string, scale float32) *G.Node {
	k := kernel{
		name: name,
		in:   []int{4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			x := s[0]
			if len(x) != 4 || x[2]%2 != 0 || x[3]%2 != 0 {
				return nil, fmt.Errorf("%s: input %v is not 4-D with even sides", strings.ToLower(name), x)
			}
			return tensor.Shape{x[0], x[1], x[2] / 2, x[3] / 2}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			pool2x(out, in[0], s[0], scale)
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		if scale != 1 {
			grad = Scale(grad, scale)
		}
		return G.Nodes{Upsample2x(grad)}, nil
	}
	return apply(k, x)
}

// pool2x writes the 2×2 block sums of x (shape xs, even sides), times
// scale, to out (simd.Pool2x: the sum is (a+b)+c+d in the order of the
// block's elements in memory for every scale, so that the average pool is
// the sum pool times ¼ exactly).
func pool2x(out, x []float32, xs tensor.Shape, scale float32) {
	rows, w := xs[0]*xs[1]*xs[2]/2, xs[3]/2
	simd.Parallel(rows, 4*w, func(lo, hi int) {
		simd.Pool2x(out[lo*w:hi*w], x[4*lo*w:4*hi*w], hi-lo, w, scale)
	})
}

// MSE returns the mean of (pred-target)² over all elements, a scalar.
// It is differentiable with respect to pred only.
func MSE(pred, target *G.Node) *G.Node {
	dims := pred.Shape().Dims()
	k := kernel{
		name: "MSE",
		in:   []int{dims, dims},
		out:  0,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if !s[0].Eq(s[1]) {
				return nil, fmt.Errorf("mse: shapes %v and %v differ", s[0], s[1])
			}
			return tensor.ScalarShape(), nil
		},
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			var acc float64
			for i, p := range in[0] {
				d := float64(p) - float64(in[1][i])
				acc += d * d
			}
			out[0] = float32(acc / float64(len(in[0])))
			return nil
		},
		wrt: []bool{true, false},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{
			name:  "MSEBackward",
			in:    []int{dims, dims, 0},
			out:   dims,
			shape: func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
			do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
				c := 2 * in[2][0] / float32(len(in[0]))
				for i, p := range in[0] {
					out[i] = c * (p - in[1][i])
				}
				return nil
			},
		}, ins[0], ins[1], grad), nil}, nil
	}
	return apply(k, pred, target)
}

// Affine returns a·x + b elementwise.
func Affine(x *G.Node, a, b float32) *G.Node {
	dims := x.Shape().Dims()
	k := kernel{
		name:  fmt.Sprintf("Affine(%g,%g)", a, b),
		in:    []int{dims},
		out:   dims,
		shape: sameShape("affine"),
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			for i, v := range in[0] {
				out[i] = a*v + b
			}
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{Scale(grad, a)}, nil
	}
	return apply(k, x)
}

// Dot returns the scalar sum(x ⊙ r), differentiable with respect to x. With
// a random r it is the loss that checks a whole backward pass.
func Dot(x, r *G.Node) *G.Node {
	dims := x.Shape().Dims()
	k := kernel{
		name: "Dot",
		in:   []int{dims, dims},
		out:  0,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if !s[0].Eq(s[1]) {
				return nil, fmt.Errorf("dot: shapes %v and %v differ", s[0], s[1])
			}
			return tensor.ScalarShape(), nil
		},
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			var s float64
			for i, v := range in[0] {
				s += float64(v) * float64(in[1][i])
			}
			out[0] = float32(s)
			return nil
		},
		wrt: []bool{true, false},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{
			name:  "DotBackward",
			in:    []int{dims, 0},
			out:   dims,
			shape: func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
			do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
				for i, v := range in[0] {
					out[i] = v * in[1][0]
				}
				return nil
			},
		}, ins[1], grad), nil}, nil
	}
	return apply(k, x, r)
}

// WeightedMSE returns Σ_n w_n·mean_i (pred_ni − target_ni)² / N for batches
// pred and target of N samples and per-sample weights w (N): the diffusion
// training loss, with w ≡ 1 for plain MSE and w = min-SNR weights (Hang et
// al., "Efficient Diffusion Training via Min-SNR Weighting Strategy", ICCV
// 2023) otherwise. It is differentiable with respect to pred only.
func WeightedMSE(pred, target, w *G.Node) *G.Node {
	dims := pred.Shape().Dims()
	k := kernel{
		name: "WeightedMSE",
		in:   []int{dims, dims, 1},
		out:  0,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if !s[0].Eq(s[1]) || len(s[2]) != 1 || s[2][0] != s[0][0] {
				return nil, fmt.Errorf("weighted mse: pred %v, target %v, weights %v do not match", s[0], s[1], s[2])
			}
			return tensor.ScalarShape(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			n := s[0][0]
			per := len(in[0]) / n
			var acc float64
			for i := 0; i < n; i++ {
				var e float64
				p, t := in[0][i*per:(i+1)*per], in[1][i*per:(i+1)*per]
				for j, v := range p {
					d := float64(v) - float64(t[j])
					e += d * d
				}
				acc += float64(in[2][i]) * e / float64(per)
			}
			out[0] = float32(acc / float64(n))
			return nil
		},
		wrt: []bool{true, false, false},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{
			name:  "WeightedMSEBackward",
			in:    []int{dims, dims, 1, 0},
			out:   dims,
			shape: func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
			do: func(out []float32, in [][]float32, s []tensor.Shape) error {
				n := s[0][0]
				per := len(in[0]) / n
				for i := 0; i < n; i++ {
					c := 2 * in[3][0] * in[2][i] / float32(per*n)
					p, t, o := in[0][i*per:(i+1)*per], in[1][i*per:(i+1)*per], out[i*per:(i+1)*per]
					for j, v := range p {
						o[j] = c * (v - t[j])
					}
				}
				return nil
			},
		}, ins[0], ins[1], ins[2], grad), nil, nil}, nil
	}
	return apply(k, pred, target, w)
}

// chunks runs f over [0, n) in parallel pieces, for elementwise ops.
func chunks(n int, f func(lo, hi int)) {
	const grain = 4096
	simd.Parallel((n+grain-1)/grain, grain, func(lo, hi int) { f(lo*grain, min(hi*grain, n)) })
}

// SoftmaxCrossEntropy returns the mean over rows of −Σ_k y_k·log softmax(z)_k
// for logits z (N,K) and target distributions y (N,K) (one-hot labels),
// computed stably in float64. It is differentiable with respect to z only;
// the gradient is (softmax(z) − y)/N.
func SoftmaxCrossEntropy(z, y *G.Node) *G.Node {
	k := kernel{
		name: "SoftmaxCrossEntropy",
		in:   []int{2, 2},
		out:  0,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if !s[0].Eq(s[1]) || len(s[0]) != 2 {
				return nil, fmt.Errorf("cross-entropy: logits %v and targets %v differ", s[0], s[1])
			}
			return tensor.ScalarShape(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			n, kk := s[0][0], s[0][1]
			var total float64
			for i := 0; i < n; i++ {
				zr, yr := in[0][i*kk:(i+1)*kk], in[1][i*kk:(i+1)*kk]
				lse := logSumExp(zr)
				for j, yv := range yr {
					if yv != 0 {
						total -= float64(yv) * (float64(zr[j]) - lse)
					}
				}
			}
			out[0] = float32(total / float64(n))
			return nil
		},
		wrt: []bool{true, false},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{
			name:  "SoftmaxCrossEntropyBackward",
			in:    []int{2, 2, 0},
			out:   2,
			shape: func(s []tensor.Shape) (tensor.Shape, error) { return s[0].Clone(), nil },
			do: func(out []float32, in [][]float32, s []tensor.Shape) error {
				n, kk := s[0][0], s[0][1]
				g := float64(in[2][0]) / float64(n)
				for i := 0; i < n; i++ {
					zr, yr, or := in[0][i*kk:(i+1)*kk], in[1][i*kk:(i+1)*kk], out[i*kk:(i+1)*kk]
					lse := logSumExp(zr)
					for j := range zr {
						or[j] = float32(g * (math.Exp(float64(zr[j])-lse) - float64(yr[j])))
					}
				}
				return nil
			},
		}, ins[0], ins[1], grad), nil}, nil
	}
	return apply(k, z, y)
}

func logSumExp(z []float32) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// MeanHW averages a (N,C,H,W) tensor over its spatial axes, giving (N,C):
// global average pooling.
func MeanHW(x *G.Node) *G.Node {
	s := x.Shape()
	return Scale(SumHW(x), 1/float32(s[2]*s[3]))
}
