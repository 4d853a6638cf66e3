package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// The ops of this file, with BatchNorm2d (batchnorm.go) and the losses of
// segloss.go, are what the segmentation networks need: the original U-Net
// (Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for
// Biomedical Image Segmentation", MICCAI 2015: ReLU, 2×2 max pooling, 2×2
// up-convolutions and crop-and-copy skips), the Attention U-Net (Oktay et
// al., "Attention U-Net: Learning Where to Look for the Pancreas", MIDL
// 2018: sigmoid attention coefficients that gate the skip features) and
// residual U-Nets with batch normalisation.

// ReLU returns max(x, 0) elementwise, for tensors of any shape. Its
// gradient passes where x > 0 and is zero elsewhere (at 0 too, as PyTorch's
// relu).
func ReLU(x *G.Node) *G.Node {
	dims := x.Shape().Dims()
	k := kernel{
		name:  "ReLU",
		in:    []int{dims},
		out:   dims,
		shape: sameShape("relu"),
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			x := in[0]
			chunks(len(out), func(lo, hi int) {
				for i, v := range x[lo:hi] {
					out[lo+i] = max(v, 0)
				}
			})
			return nil
		},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{
			name:  "ReLUBackward",
			in:    []int{dims, dims},
			out:   dims,
			shape: sameShape("relu backward"),
			do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
				x, g := in[0], in[1]
				chunks(len(out), func(lo, hi int) {
					reluBackward(out[lo:hi], x[lo:hi], g[lo:hi])
				})
				return nil
			},
		}, ins[0], grad)}, nil
	}
	return apply(k, x)
}

// reluBackward sets out to g where x > 0 and to zero elsewhere (NaN
// included, as PyTorch's threshold_backward), without branches: a sign or
// zero test mispredicts on half of a layer's activations.
func reluBackward(out, x, g []float32) {
	out, g = out[:len(x)], g[:len(x)]
	for i, v := range x {
		u := math.Float32bits(v)
		// neg is all ones for a set sign bit; among the values with the
		// sign clear, pos is all ones above +0 and num at +Inf or below.
		neg := uint32(int32(u) >> 31)
		pos := uint32(int32(-u) >> 31)
		num := uint32(int32(u-0x7f800001) >> 31)
		out[i] = math.Float32frombits(math.Float32bits(g[i]) &^ neg & pos & num)
	}
}

// Sigmoid returns 1/(1+exp(−x)) elementwise, for tensors of any shape:
// the attention coefficients of an attention gate (Oktay et al. 2018).
// Its gradient is grad·σ·(1−σ), computed from the output.
func Sigmoid(x *G.Node) *G.Node {
	dims := x.Shape().Dims()
	k := kernel{
		name:  "Sigmoid",
		in:    []int{dims},
		out:   dims,
		shape: sameShape("sigmoid"),
		do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
			x := in[0]
			chunks(len(out), func(lo, hi int) {
				for i, v := range x[lo:hi] {
					out[lo+i] = sigmoid32(v)
				}
			})
			return nil
		},
	}
	k.diff = func(_ G.Nodes, out, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{
			name:  "SigmoidBackward",
			in:    []int{dims, dims},
			out:   dims,
			shape: sameShape("sigmoid backward"),
			do: func(out []float32, in [][]float32, _ []tensor.Shape) error {
				y, g := in[0], in[1]
				chunks(len(out), func(lo, hi int) {
					for i, s := range y[lo:hi] {
						out[lo+i] = g[lo+i] * s * (1 - s)
					}
				})
				return nil
			},
		}, out, grad)}, nil
	}
	return apply(k, x)
}

// sigmoid32 is the logistic function computed without overflow for either
// sign of t.
func sigmoid32(t float32) float32 {
	if t >= 0 {
		return float32(1 / (1 + math.Exp(-float64(t))))
	}
	e := math.Exp(float64(t))
	return float32(e / (1 + e))
}

// MulChannels returns x ⊙ a for x (N,C,H,W) and a (N,1,H,W) broadcast over
// the channels: how an attention gate (Oktay et al. 2018) scales the skip
// features by its per-pixel coefficients. It is differentiable with respect
// to both: dx = grad ⊙ a, da = Σ_c grad ⊙ x.
func MulChannels(x, a *G.Node) *G.Node {
	k := kernel{
		name: "MulChannels",
		in:   []int{4, 4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			x, a := s[0], s[1]
			if len(x) != 4 || len(a) != 4 || a[0] != x[0] || a[1] != 1 || a[2] != x[2] || a[3] != x[3] {
				return nil, fmt.Errorf("mulchannels: x %v and coefficients %v do not match (want coefficients (%v,1,%v,%v))",
					x, a, dimOr(x, 0), dimOr(x, 2), dimOr(x, 3))
			}
			return x.Clone(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			c, hw := s[0][1], s[0][2]*s[0][3]
			x, a := in[0], in[1]
			simd.Parallel(s[0][0]*c, hw, func(lo, hi int) {
				for u := lo; u < hi; u++ {
					av := a[u/c*hw : (u/c+1)*hw]
					xv, ov := x[u*hw:(u+1)*hw], out[u*hw:(u+1)*hw]
					for i, v := range xv {
						ov[i] = v * av[i]
					}
				}
			})
			return nil
		},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{MulChannels(grad, ins[1]), sumChannelProducts(grad, ins[0])}, nil
	}
	return apply(k, x, a)
}

// dimOr returns s[i], or -1 when s has no axis i (for error messages).
func dimOr(s tensor.Shape, i int) int {
	if i < len(s) {
		return s[i]
	}
	return -1
}

// sumChannelProducts returns Σ_c a ⊙ b, (N,1,H,W) from two (N,C,H,W)
// tensors: the gradient of MulChannels' coefficients.
func sumChannelProducts(a, b *G.Node) *G.Node {
	return apply(kernel{
		name: "SumChannelProducts",
		in:   []int{4, 4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if len(s[0]) != 4 || !s[0].Eq(s[1]) {
				return nil, fmt.Errorf("sumchannelproducts: shapes %v and %v differ", s[0], s[1])
			}
			return tensor.Shape{s[0][0], 1, s[0][2], s[0][3]}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			n, c, h, w := s[0][0], s[0][1], s[0][2], s[0][3]
			hw := h * w
			simd.Parallel(n*h, c*w, func(lo, hi int) {
				acc := make([]float64, w)
				for u := lo; u < hi; u++ {
					i, y := u/h, u%h
					clear(acc)
					for ci := 0; ci < c; ci++ {
						off := (i*c+ci)*hw + y*w
						av, bv := in[0][off:off+w], in[1][off:off+w]
						for j, v := range av {
							acc[j] += float64(v) * float64(bv[j])
						}
					}
					o := out[i*hw+y*w : i*hw+(y+1)*w]
					for j, v := range acc {
						o[j] = float32(v)
					}
				}
			})
			return nil
		},
	}, a, b)
}

// MaxPool2x returns the 2×2 max pooling with stride 2 of (N,C,H,W) data,
// (N,C,H/2,W/2): the U-Net's downsampling step (Ronneberger et al., MICCAI
// 2015), F.max_pool2d(x, 2). H and W must be even: an odd side is a shape
// error (a panic while the graph is built; see Build) naming the size,
// since the paper's architecture chooses tile sizes for which every pooled
// map has even sides. The gradient goes to the largest value of each
// window, the first one in row-major order on ties, as PyTorch routes it;
// a NaN counts as the largest value.
func MaxPool2x(x *G.Node) *G.Node {
	k := kernel{
		name: "MaxPool2x",
		in:   []int{4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			x := s[0]
			if len(x) != 4 {
				return nil, fmt.Errorf("maxpool2x: input %v is not 4-D", x)
			}
			if x[2]%2 != 0 {
				return nil, fmt.Errorf("maxpool2x: input %v has odd height %d; 2×2 max pooling needs even sides", x, x[2])
			}
			if x[3]%2 != 0 {
				return nil, fmt.Errorf("maxpool2x: input %v has odd width %d; 2×2 max pooling needs even sides", x, x[3])
			}
			return tensor.Shape{x[0], x[1], x[2] / 2, x[3] / 2}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			maxPool2x(out, nil, in[0], nil, s[0])
			return nil
		},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		xs := ins[0].Shape().Clone()
		return G.Nodes{apply(kernel{
			name: "MaxPool2xBackward",
			in:   []int{4, 4},
			out:  4,
			shape: func(s []tensor.Shape) (tensor.Shape, error) {
				if !s[0].Eq(xs) || len(s[1]) != 4 || s[1][2]*2 != xs[2] || s[1][3]*2 != xs[3] {
					return nil, fmt.Errorf("maxpool2x backward: input %v and gradient %v do not match", s[0], s[1])
				}
				return xs, nil
			},
			do: func(dx []float32, in [][]float32, s []tensor.Shape) error {
				maxPool2x(nil, dx, in[0], in[1], s[0])
				return nil
			},
		}, ins[0], grad)}, nil
	}
	return apply(k, x)
}

// maxPool2x pools x (shape xs, even sides) into out when out is not nil,
// and when dx is not nil writes to dx the gradient gy routed to each
// window's first maximum (zero elsewhere).
func maxPool2x(out, dx, x, gy []float32, xs tensor.Shape) {
	rows, w := xs[0]*xs[1]*xs[2]/2, xs[3]/2
	W := xs[3]
	simd.Parallel(rows, 4*w, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			top, bot := x[2*r*W:(2*r+1)*W], x[(2*r+1)*W:(2*r+2)*W]
			for j := 0; j < w; j++ {
				// Window order: top-left, top-right, bottom-left, bottom-right.
				m, at := top[2*j], 0
				if v := top[2*j+1]; v > m || v != v {
					m, at = v, 1
				}
				if v := bot[2*j]; v > m || v != v {
					m, at = v, 2
				}
				if v := bot[2*j+1]; v > m || v != v {
					m, at = v, 3
				}
				if out != nil {
					out[r*w+j] = m
				}
				if dx != nil {
					dt, db := dx[2*r*W:(2*r+1)*W], dx[(2*r+1)*W:(2*r+2)*W]
					dt[2*j], dt[2*j+1], db[2*j], db[2*j+1] = 0, 0, 0, 0
					g := gy[r*w+j]
					switch at {
					case 0:
						dt[2*j] = g
					case 1:
						dt[2*j+1] = g
					case 2:
						db[2*j] = g
					default:
						db[2*j+1] = g
					}
				}
			}
		}
	})
}

// CenterCrop returns the centre h×w window of (N,C,H,W) data, starting at
// row (H−h)/2 and column (W−w)/2 (rounded down): the U-Net's
// crop-and-copy, which crops the contracting path's feature map to the
// size of the expanding path's before concatenation (Ronneberger et al.,
// MICCAI 2015). A window larger than the input, or empty, is a shape
// error. The gradient is the output gradient padded back with zeros.
func CenterCrop(x *G.Node, h, w int) *G.Node {
	xs := x.Shape().Clone()
	k := kernel{
		name: fmt.Sprintf("CenterCrop(%d,%d)", h, w),
		in:   []int{4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			x := s[0]
			if len(x) != 4 {
				return nil, fmt.Errorf("centercrop: input %v is not 4-D", x)
			}
			if h <= 0 || w <= 0 || h > x[2] || w > x[3] {
				return nil, fmt.Errorf("centercrop: cannot crop %d×%d from input %v (height %d, width %d)", h, w, x, x[2], x[3])
			}
			return tensor.Shape{x[0], x[1], h, w}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			cropPad(in[0], out, s[0], h, w, false)
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{
			name: fmt.Sprintf("CenterCropBackward(%v)", xs),
			in:   []int{4},
			out:  4,
			shape: func(s []tensor.Shape) (tensor.Shape, error) {
				g := s[0]
				if len(g) != 4 || g[0] != xs[0] || g[1] != xs[1] || g[2] != h || g[3] != w {
					return nil, fmt.Errorf("centercrop backward: gradient %v does not fit %v cropped to %d×%d", g, xs, h, w)
				}
				return xs, nil
			},
			do: func(dx []float32, in [][]float32, _ []tensor.Shape) error {
				cropPad(dx, in[0], xs, h, w, true)
				return nil
			},
		}, grad)}, nil
	}
	return apply(k, x)
}

// cropPad moves data between big (shape bs) and its centre h×w window
// small: into small when pad is false, into big (zero outside the window)
// when pad is true.
func cropPad(big, small []float32, bs tensor.Shape, h, w int, pad bool) {
	H, W := bs[2], bs[3]
	oy, ox := (H-h)/2, (W-w)/2
	simd.Parallel(bs[0]*bs[1], H*W, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			bp, sp := big[p*H*W:(p+1)*H*W], small[p*h*w:(p+1)*h*w]
			if pad {
				clear(bp)
			}
			for y := 0; y < h; y++ {
				b, s := bp[(oy+y)*W+ox:][:w], sp[y*w:(y+1)*w]
				if pad {
					copy(b, s)
				} else {
					copy(s, b)
				}
			}
		}
	})
}

// ConvTranspose2x returns the transposed convolution with a 2×2 kernel and
// stride 2 of x (N,Cin,H,W), torch.nn.ConvTranspose2d(Cin, Cout,
// kernel_size=2, stride=2): the U-Net's "up-convolution" (Ronneberger et
// al., MICCAI 2015), output (N,Cout,2H,2W) with
//
//	out[n, o, 2i+ky, 2j+kx] = b[o] + Σ_c x[n, c, i, j]·w[c, o, ky, kx]
//
// for filters w (Cin,Cout,2,2) in PyTorch's layout and bias b (Cout), or no
// bias when b is nil. The windows do not overlap, so it is one GEMM,
// (Cout·4 × Cin) by (Cin × N·H·W), whose rows are then spread over the
// output's 2×2 blocks; the gradients with respect to x and w are one GEMM
// each over the gradient gathered back from the blocks, and that with
// respect to b its per-channel sum.
func ConvTranspose2x(x, w, b *G.Node) *G.Node {
	children := G.Nodes{x, w}
	in := []int{4, 4}
	if b != nil {
		children = append(children, b)
		in = append(in, 1)
	}
	k := kernel{
		name: fmt.Sprintf("ConvTranspose2x(bias=%t)", b != nil),
		in:   in,
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			xs, ws := s[0], s[1]
			if len(xs) != 4 || len(ws) != 4 || ws[0] != xs[1] || ws[2] != 2 || ws[3] != 2 {
				return nil, fmt.Errorf("convtranspose2x: x %v does not fit filters %v (want (%d,Cout,2,2))", xs, ws, dimOr(xs, 1))
			}
			if len(s) == 3 && (len(s[2]) != 1 || s[2][0] != ws[1]) {
				return nil, fmt.Errorf("convtranspose2x: bias %v does not fit filters %v", s[2], ws)
			}
			return tensor.Shape{xs[0], ws[1], 2 * xs[2], 2 * xs[3]}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			var bias []float32
			if len(in) == 3 {
				bias = in[2]
			}
			convT2xForward(out, in[0], in[1], bias, s[0], s[1][1])
			return nil
		},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		xs, ws := ins[0].Shape().Clone(), ins[1].Shape().Clone()
		dx := apply(kernel{
			name: fmt.Sprintf("ConvTranspose2xBackwardData(%v)", xs),
			in:   []int{4, 4},
			out:  4,
			shape: func(s []tensor.Shape) (tensor.Shape, error) {
				return xs, nil
			},
			do: func(dx []float32, in [][]float32, s []tensor.Shape) error {
				convT2xBackwardData(dx, in[0], in[1], xs, s[0][1])
				return nil
			},
		}, ins[1], grad)
		dw := apply(kernel{
			name: fmt.Sprintf("ConvTranspose2xBackwardFilter(%v)", ws),
			in:   []int{4, 4},
			out:  4,
			shape: func(s []tensor.Shape) (tensor.Shape, error) {
				return ws, nil
			},
			do: func(dw []float32, in [][]float32, s []tensor.Shape) error {
				convT2xBackwardFilter(dw, in[0], in[1], s[0], ws[1])
				return nil
			},
		}, ins[0], grad)
		if len(ins) == 3 {
			return G.Nodes{dx, dw, SumNHW(grad)}, nil
		}
		return G.Nodes{dx, dw}, nil
	}
	return apply(k, children...)
}

// The GEMMs of ConvTranspose2x work on "channel-major" matrices: C rows of
// N·H·W columns, the samples side by side, so that a whole batch is one
// product whatever its size. For one sample the tensor itself is that
// matrix.

// toChannelMajor copies x (n, c, hw) into dst (c, n·hw).
func toChannelMajor(dst, x []float32, n, c, hw int) {
	simd.Parallel(n*c, hw, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			i, ci := u/c, u%c
			copy(dst[(ci*n+i)*hw:(ci*n+i+1)*hw], x[u*hw:(u+1)*hw])
		}
	})
}

// fromChannelMajor copies src (c, n·hw) into x (n, c, hw).
func fromChannelMajor(x, src []float32, n, c, hw int) {
	simd.Parallel(n*c, hw, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			i, ci := u/c, u%c
			copy(x[u*hw:(u+1)*hw], src[(ci*n+i)*hw:(ci*n+i+1)*hw])
		}
	})
}

// blocksToRows gathers the 2×2 blocks of g (n, co, 2h, 2w) into the
// channel-major matrix dst (co·4, n·h·w): row o·4+ky·2+kx, column
// (i·h + y)·w + x holds g[i, o, 2y+ky, 2x+kx].
func blocksToRows(dst, g []float32, n, co, h, w int) {
	hw, cols := h*w, n*h*w
	simd.Parallel(n*co*h, 8*w, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			y := u % h
			i, o := u/h/co, u/h%co
			src := g[((i*co+o)*2*h+2*y)*2*w:]
			r0, r1 := src[:2*w], src[2*w:4*w]
			col := i*hw + y*w
			d00 := dst[(o*4+0)*cols+col:][:w]
			d01 := dst[(o*4+1)*cols+col:][:w]
			d10 := dst[(o*4+2)*cols+col:][:w]
			d11 := dst[(o*4+3)*cols+col:][:w]
			for x := 0; x < w; x++ {
				d00[x], d01[x] = r0[2*x], r0[2*x+1]
				d10[x], d11[x] = r1[2*x], r1[2*x+1]
			}
		}
	})
}

// rowsToBlocks is the inverse of blocksToRows, adding bias[o] (bias may be
// nil): out (n, co, 2h, 2w) from the channel-major src (co·4, n·h·w).
func rowsToBlocks(out, src, bias []float32, n, co, h, w int) {
	hw, cols := h*w, n*h*w
	simd.Parallel(n*co*h, 8*w, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			y := u % h
			i, o := u/h/co, u/h%co
			var b float32
			if bias != nil {
				b = bias[o]
			}
			dst := out[((i*co+o)*2*h+2*y)*2*w:]
			r0, r1 := dst[:2*w], dst[2*w:4*w]
			col := i*hw + y*w
			s00 := src[(o*4+0)*cols+col:][:w]
			s01 := src[(o*4+1)*cols+col:][:w]
			s10 := src[(o*4+2)*cols+col:][:w]
			s11 := src[(o*4+3)*cols+col:][:w]
			for x := 0; x < w; x++ {
				r0[2*x], r0[2*x+1] = s00[x]+b, s01[x]+b
				r1[2*x], r1[2*x+1] = s10[x]+b, s11[x]+b
			}
		}
	})
}

// convT2xForward computes ConvTranspose2x for x of shape xs, filters w
// (cin, co, 2, 2) and bias (co, or nil) into out.
func convT2xForward(out, x, w, bias []float32, xs tensor.Shape, co int) {
	n, cin, h, wd := xs[0], xs[1], xs[2], xs[3]
	cols := n * h * wd
	xcm := x
	var s []float32
	if n > 1 {
		s = getScratch(cin*cols + co*4*cols)
		xcm = s[:cin*cols]
		toChannelMajor(xcm, x, n, cin, h*wd)
	} else {
		s = getScratch(co * 4 * cols)
	}
	defer putScratch(s)
	ycm := s[len(s)-co*4*cols:]
	// Y (co·4 × cols) = Wᵀ (co·4 × cin) · X (cin × cols), W being cin × co·4.
	simd.Sgemm(true, false, co*4, cols, cin, 1, w, co*4, xcm, cols, 0, ycm, cols)
	rowsToBlocks(out, ycm, bias, n, co, h, wd)
}

// convT2xBackwardData computes the gradient with respect to the input (of
// shape xs) from the filters w (cin, co, 2, 2) and the output gradient gy:
// dX (cin × cols) = W (cin × co·4) · G (co·4 × cols).
func convT2xBackwardData(dx, w, gy []float32, xs tensor.Shape, co int) {
	n, cin, h, wd := xs[0], xs[1], xs[2], xs[3]
	cols := n * h * wd
	s := getScratch(co*4*cols + cin*cols)
	defer putScratch(s)
	gcm, dxcm := s[:co*4*cols], s[co*4*cols:]
	if n == 1 {
		dxcm = dx
	}
	blocksToRows(gcm, gy, n, co, h, wd)
	simd.Sgemm(false, false, cin, cols, co*4, 1, w, co*4, gcm, cols, 0, dxcm, cols)
	if n > 1 {
		fromChannelMajor(dx, dxcm, n, cin, h*wd)
	}
}

// convT2xBackwardFilter computes the gradient with respect to the filters
// (cin, co, 2, 2) from the input x (shape xs) and the output gradient gy:
// dW (cin × co·4) = X (cin × cols) · Gᵀ (cols × co·4), the sum over the
// samples and pixels being the product's inner dimension.
func convT2xBackwardFilter(dw, x, gy []float32, xs tensor.Shape, co int) {
	n, cin, h, wd := xs[0], xs[1], xs[2], xs[3]
	cols := n * h * wd
	s := getScratch(co*4*cols + cin*cols)
	defer putScratch(s)
	gcm, xcm := s[:co*4*cols], s[co*4*cols:]
	if n == 1 {
		xcm = x
	} else {
		toChannelMajor(xcm, x, n, cin, h*wd)
	}
	blocksToRows(gcm, gy, n, co, h, wd)
	simd.Sgemm(false, true, cin, co*4, cols, 1, xcm, cols, gcm, cols, 0, dw, co*4)
}
