package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/gemm"
)

// ConvGeom is the geometry of a 2-D convolution: kernel size, stride and
// padding (top, left, bottom, right), as in PyTorch's Conv2d (a
// cross-correlation over NCHW data with filters laid out (out, in, kh, kw)).
type ConvGeom struct {
	KH, KW                 int
	Stride                 int
	PadT, PadL, PadB, PadR int
}

// Same returns the geometry of a k×k convolution with the given stride and
// symmetric padding p.
func Same(k, stride, p int) ConvGeom {
	return ConvGeom{KH: k, KW: k, Stride: stride, PadT: p, PadL: p, PadB: p, PadR: p}
}

// Out returns the output height and width for an input of h×w.
func (c ConvGeom) Out(h, w int) (int, int) {
	return (h+c.PadT+c.PadB-c.KH)/c.Stride + 1, (w+c.PadL+c.PadR-c.KW)/c.Stride + 1
}

func (c ConvGeom) String() string {
	return fmt.Sprintf("k%dx%d s%d p%d,%d,%d,%d", c.KH, c.KW, c.Stride, c.PadT, c.PadL, c.PadB, c.PadR)
}

// pointwise reports whether the convolution is a 1×1, stride-1, unpadded one,
// whose im2col matrix is the input itself.
func (c ConvGeom) pointwise() bool {
	return c.KH == 1 && c.KW == 1 && c.Stride == 1 && c.PadT == 0 && c.PadL == 0 && c.PadB == 0 && c.PadR == 0
}

// im2col writes the (C·KH·KW)×(Ho·Wo) patch matrix of one C×H×W image.
func (c ConvGeom) im2col(x []float32, ch, h, w int, col []float32) {
	ho, wo := c.Out(h, w)
	n := ho * wo
	for ci := 0; ci < ch; ci++ {
		xc := x[ci*h*w : (ci+1)*h*w]
		for ky := 0; ky < c.KH; ky++ {
			for kx := 0; kx < c.KW; kx++ {
				row := col[((ci*c.KH+ky)*c.KW+kx)*n:][:n]
				for oy := 0; oy < ho; oy++ {
					iy := oy*c.Stride + ky - c.PadT
					dst := row[oy*wo : (oy+1)*wo]
					if iy < 0 || iy >= h {
						clear(dst)
						continue
					}
					src := xc[iy*w : (iy+1)*w]
					if c.Stride == 1 {
						// Valid output columns are those with 0 <= ox+kx-PadL < w.
						lo, hi := c.PadL-kx, w+c.PadL-kx
						lo, hi = max(lo, 0), min(hi, wo)
						if lo >= hi {
							clear(dst)
							continue
						}
						clear(dst[:lo])
						copy(dst[lo:hi], src[lo+kx-c.PadL:])
						clear(dst[hi:])
						continue
					}
					for ox := range dst {
						ix := ox*c.Stride + kx - c.PadL
						if ix < 0 || ix >= w {
							dst[ox] = 0
						} else {
							dst[ox] = src[ix]
						}
					}
				}
			}
		}
	}
}

// col2im adds a patch matrix back into one C×H×W image gradient (which it
// zeroes first).
func (c ConvGeom) col2im(col []float32, ch, h, w int, dx []float32) {
	clear(dx[:ch*h*w])
	ho, wo := c.Out(h, w)
	n := ho * wo
	for ci := 0; ci < ch; ci++ {
		xc := dx[ci*h*w : (ci+1)*h*w]
		for ky := 0; ky < c.KH; ky++ {
			for kx := 0; kx < c.KW; kx++ {
				row := col[((ci*c.KH+ky)*c.KW+kx)*n:][:n]
				for oy := 0; oy < ho; oy++ {
					iy := oy*c.Stride + ky - c.PadT
					if iy < 0 || iy >= h {
						continue
					}
					src := row[oy*wo : (oy+1)*wo]
					dst := xc[iy*w : (iy+1)*w]
					for ox, v := range src {
						ix := ox*c.Stride + kx - c.PadL
						if ix >= 0 && ix < w {
							dst[ix] += v
						}
					}
				}
			}
		}
	}
}

// Conv2d returns the convolution of x (N,C,H,W) with filters w (O,C,KH,KW)
// plus bias b (O), or without bias when b is nil.
func Conv2d(x, w, b *G.Node, geom ConvGeom) *G.Node {
	return applyConv(x, w, b, geom)
}

func applyConv(x, w, b *G.Node, geom ConvGeom) *G.Node {
	children := G.Nodes{x, w}
	in := []int{4, 4}
	if b != nil {
		children = append(children, b)
		in = append(in, 1)
	}
	var col []float32
	k := kernel{
		name: "Conv2d(" + geom.String() + fmt.Sprintf(",bias=%t)", b != nil),
		in:   in,
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			xs, ws := s[0], s[1]
			if len(xs) != 4 || len(ws) != 4 {
				return nil, fmt.Errorf("conv2d: x %v and w %v must both be 4-D", xs, ws)
			}
			if xs[1] != ws[1] || ws[2] != geom.KH || ws[3] != geom.KW {
				return nil, fmt.Errorf("conv2d: x %v does not fit filters %v (%v)", xs, ws, geom)
			}
			if len(s) == 3 && (len(s[2]) != 1 || s[2][0] != ws[0]) {
				return nil, fmt.Errorf("conv2d: bias %v does not fit filters %v", s[2], ws)
			}
			ho, wo := geom.Out(xs[2], xs[3])
			if ho <= 0 || wo <= 0 {
				return nil, fmt.Errorf("conv2d: input %v too small for %v", xs, geom)
			}
			return tensor.Shape{xs[0], ws[0], ho, wo}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			xs, ws := s[0], s[1]
			n, ch, h, wd := xs[0], xs[1], xs[2], xs[3]
			o := ws[0]
			ho, wo := geom.Out(h, wd)
			kk := ch * geom.KH * geom.KW
			if !geom.pointwise() && len(col) < kk*ho*wo {
				col = make([]float32, kk*ho*wo)
			}
			for i := 0; i < n; i++ {
				xi := in[0][i*ch*h*wd : (i+1)*ch*h*wd]
				yi := out[i*o*ho*wo : (i+1)*o*ho*wo]
				src := xi
				if !geom.pointwise() {
					geom.im2col(xi, ch, h, wd, col)
					src = col
				}
				beta := float32(0)
				if len(in) == 3 {
					for oc := 0; oc < o; oc++ {
						fill(yi[oc*ho*wo:(oc+1)*ho*wo], in[2][oc])
					}
					beta = 1
				}
				gemm.Sgemm(false, false, o, ho*wo, kk, 1, in[1], kk, src, ho*wo, beta, yi, ho*wo)
			}
			return nil
		},
	}
	k.diff = func(ins G.Nodes, out, grad *G.Node) (G.Nodes, error) {
		dx := convBackwardData(ins[1], grad, ins[0].Shape(), geom)
		dw := convBackwardFilter(ins[0], grad, ins[1].Shape(), geom)
		if len(ins) == 3 {
			return G.Nodes{dx, dw, SumNHW(grad)}, nil
		}
		return G.Nodes{dx, dw}, nil
	}
	return apply(k, children...)
}

// convBackwardData computes the gradient of a convolution with respect to
// its input x of shape xs, from the filters w and the output gradient gy.
func convBackwardData(w, gy *G.Node, xs tensor.Shape, geom ConvGeom) *G.Node {
	xs = xs.Clone()
	var col []float32
	return apply(kernel{
		name: fmt.Sprintf("Conv2dBackwardData(%v,%v)", geom, xs),
		in:   []int{4, 4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			return xs, nil
		},
		do: func(dx []float32, in [][]float32, s []tensor.Shape) error {
			ws, ys := s[0], s[1]
			n, ch, h, wd := xs[0], xs[1], xs[2], xs[3]
			o, ho, wo := ws[0], ys[2], ys[3]
			kk := ch * geom.KH * geom.KW
			if len(col) < kk*ho*wo {
				col = make([]float32, kk*ho*wo)
			}
			for i := 0; i < n; i++ {
				gyi := in[1][i*o*ho*wo : (i+1)*o*ho*wo]
				dxi := dx[i*ch*h*wd : (i+1)*ch*h*wd]
				if geom.pointwise() {
					gemm.Sgemm(true, false, kk, ho*wo, o, 1, in[0], kk, gyi, ho*wo, 0, dxi, ho*wo)
					continue
				}
				gemm.Sgemm(true, false, kk, ho*wo, o, 1, in[0], kk, gyi, ho*wo, 0, col, ho*wo)
				geom.col2im(col, ch, h, wd, dxi)
			}
			return nil
		},
	}, w, gy)
}

// convBackwardFilter computes the gradient of a convolution with respect to
// its filters (of shape ws) from the input x and the output gradient gy.
func convBackwardFilter(x, gy *G.Node, ws tensor.Shape, geom ConvGeom) *G.Node {
	ws = ws.Clone()
	var col []float32
	return apply(kernel{
		name: fmt.Sprintf("Conv2dBackwardFilter(%v,%v)", geom, ws),
		in:   []int{4, 4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			return ws, nil
		},
		do: func(dw []float32, in [][]float32, s []tensor.Shape) error {
			xs, ys := s[0], s[1]
			n, ch, h, wd := xs[0], xs[1], xs[2], xs[3]
			o, ho, wo := ws[0], ys[2], ys[3]
			kk := ch * geom.KH * geom.KW
			if !geom.pointwise() && len(col) < kk*ho*wo {
				col = make([]float32, kk*ho*wo)
			}
			clear(dw)
			for i := 0; i < n; i++ {
				xi := in[0][i*ch*h*wd : (i+1)*ch*h*wd]
				gyi := in[1][i*o*ho*wo : (i+1)*o*ho*wo]
				src := xi
				if !geom.pointwise() {
					geom.im2col(xi, ch, h, wd, col)
					src = col
				}
				gemm.Sgemm(false, true, o, kk, ho*wo, 1, gyi, ho*wo, src, ho*wo, 1, dw, kk)
			}
			return nil
		},
	}, x, gy)
}

// SumNHW sums a (N,C,H,W) tensor over all axes but the channel axis, giving (C).
// It is the gradient of a per-channel bias.
func SumNHW(x *G.Node) *G.Node {
	return apply(kernel{
		name: "SumNHW",
		in:   []int{4},
		out:  1,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if len(s[0]) != 4 {
				return nil, fmt.Errorf("SumNHW: input %v is not 4-D", s[0])
			}
			return tensor.Shape{s[0][1]}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			n, c, hw := s[0][0], s[0][1], s[0][2]*s[0][3]
			for ci := 0; ci < c; ci++ {
				var acc float64
				for i := 0; i < n; i++ {
					acc += sum32(in[0][(i*c+ci)*hw : (i*c+ci+1)*hw])
				}
				out[ci] = float32(acc)
			}
			return nil
		},
	}, x)
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}

// sum32 sums float32 values with a float32 accumulator in blocks of 8 lanes,
// returned as float64.
func sum32(x []float32) float64 {
	var a [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		a[0] += x[i]
		a[1] += x[i+1]
		a[2] += x[i+2]
		a[3] += x[i+3]
		a[4] += x[i+4]
		a[5] += x[i+5]
		a[6] += x[i+6]
		a[7] += x[i+7]
	}
	s := float64(a[0]) + float64(a[1]) + float64(a[2]) + float64(a[3]) + float64(a[4]) + float64(a[5]) + float64(a[6]) + float64(a[7])
	for ; i < len(x); i++ {
		s += float64(x[i])
	}
	return s
}
