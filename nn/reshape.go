package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// AvgPool2x averages each 2×2 block of (N,C,2H,2W) data in one pass: the
// block's sum times ¼, which is exact, so it equals Scale(sum pool, ¼).
func AvgPool2x(x *G.Node) *G.Node { return pool2xNode(x, "AvgPool2x", 0.25) }

// DepthToSpace rearranges (N, C·r², H, W) into (N, C, H·r, W·r) as
// PyTorch's pixel_shuffle does: out[n, c, h·r+i, w·r+j] =
// in[n, c·r²+i·r+j, h, w] (Shi et al., "Real-Time Single Image and Video
// Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural
// Network", CVPR 2016). A 1×1 convolution to C·r² channels followed by
// DepthToSpace is a transposed convolution with an r×r kernel and stride r.
func DepthToSpace(x *G.Node, r int) *G.Node {
	k := kernel{
		name: fmt.Sprintf("DepthToSpace(%d)", r),
		in:   []int{4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			x := s[0]
			if len(x) != 4 || r < 1 || x[1]%(r*r) != 0 {
				return nil, fmt.Errorf("depthtospace: %v channels are not a multiple of %d", x, r*r)
			}
			return tensor.Shape{x[0], x[1] / (r * r), x[2] * r, x[3] * r}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			shuffle(out, in[0], s[0], r, true, nil)
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{SpaceToDepth(grad, r)}, nil
	}
	return apply(k, x)
}

// AddDepthToSpace returns base + DepthToSpace(x, r) in one pass over the
// output: how an adaptor adds its sub-pixel output to a residual.
func AddDepthToSpace(base, x *G.Node, r int) *G.Node {
	k := kernel{
		name: fmt.Sprintf("AddDepthToSpace(%d)", r),
		in:   []int{4, 4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			b, x := s[0], s[1]
			if len(x) != 4 || r < 1 || x[1]%(r*r) != 0 {
				return nil, fmt.Errorf("adddepthtospace: %v channels are not a multiple of %d", x, r*r)
			}
			o := tensor.Shape{x[0], x[1] / (r * r), x[2] * r, x[3] * r}
			if !b.Eq(o) {
				return nil, fmt.Errorf("adddepthtospace: base %v is not the shape %v of the shuffled %v", b, o, x)
			}
			return o, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			shuffle(out, in[1], s[1], r, true, in[0])
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{grad, SpaceToDepth(grad, r)}, nil
	}
	return apply(k, base, x)
}

// SpaceToDepth is the inverse of DepthToSpace (pixel_unshuffle): (N, C,
// H·r, W·r) into (N, C·r², H, W).
func SpaceToDepth(x *G.Node, r int) *G.Node {
	k := kernel{
		name: fmt.Sprintf("SpaceToDepth(%d)", r),
		in:   []int{4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			x := s[0]
			if len(x) != 4 || r < 1 || x[2]%r != 0 || x[3]%r != 0 {
				return nil, fmt.Errorf("spacetodepth: sides of %v are not multiples of %d", x, r)
			}
			return tensor.Shape{x[0], x[1] * r * r, x[2] / r, x[3] / r}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			o := tensor.Shape{s[0][0], s[0][1] * r * r, s[0][2] / r, s[0][3] / r}
			shuffle(in[0], out, o, r, false, nil)
			return nil
		},
	}
	k.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{DepthToSpace(grad, r)}, nil
	}
	return apply(k, x)
}

// shuffle moves data between the deep layout d (shape ds = (N, C·r², H, W))
// and the spatial one sp: into sp when toSpace, into d otherwise. When
// toSpace and base is not nil, sp = base + the shuffled d (base has sp's
// shape). Each output row of the spatial layout is written front to back:
// for r = 2 and r = 4 with the r source rows held in registers, which is
// three times faster than r strided passes over the row; r = 4 with a base
// (the Clockwork adaptor's output) runs simd.ToSpaceAdd4, a plane at a
// time in vector registers on AVX-512.
func shuffle(sp, d []float32, ds tensor.Shape, r int, toSpace bool, base []float32) {
	n, cd, h, w := ds[0], ds[1], ds[2], ds[3]
	c := cd / (r * r)
	W := w * r
	if toSpace && base != nil && r == 4 {
		simd.Parallel(n*c, r*r*h*w, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				pl := p * r * r * h * w
				simd.ToSpaceAdd4(sp[pl:pl+r*r*h*w], base[pl:pl+r*r*h*w], d[pl:pl+r*r*h*w], h, w)
			}
		})
		return
	}
	simd.Parallel(n*c, r*r*h*w, func(lo, hi int) {
		src := make([][]float32, r)
		for p := lo; p < hi; p++ {
			plane := sp[p*h*r*W : (p+1)*h*r*W]
			var add []float32
			if base != nil {
				add = base[p*h*r*W : (p+1)*h*r*W]
			}
			deep := d[p*r*r*h*w : (p+1)*r*r*h*w]
			// Output row Y = y·r + i interleaves the rows y of the r deep
			// channels i·r + j: sp[Y][x·r + j] = d[i·r + j][y][x].
			for y := 0; y < h; y++ {
				for i := 0; i < r; i++ {
					off := (y*r + i) * W
					row := plane[off : off+W : off+W]
					for j := range src {
						o := (i*r+j)*h*w + y*w
						src[j] = deep[o : o+w : o+w]
					}
					switch {
					case !toSpace:
						toDeep(row, src)
					case add != nil:
						toSpaceAdd(row, add[off:off+W:off+W], src)
					default:
						toSpaceRow(row, src)
					}
				}
			}
		}
	})
}

// toSpaceRow interleaves the r rows src into row: row[x·r+j] = src[j][x].
func toSpaceRow(row []float32, src [][]float32) {
	switch len(src) {
	case 2:
		s0, s1 := src[0], src[1][:len(src[0])]
		for x := range s0 {
			o := row[2*x : 2*x+2 : 2*x+2]
			o[0], o[1] = s0[x], s1[x]
		}
	case 4:
		s0 := src[0]
		s1, s2, s3 := src[1][:len(s0)], src[2][:len(s0)], src[3][:len(s0)]
		for x := range s0 {
			o := row[4*x : 4*x+4 : 4*x+4]
			o[0], o[1], o[2], o[3] = s0[x], s1[x], s2[x], s3[x]
		}
	default:
		r := len(src)
		for j, s := range src {
			for x, v := range s {
				row[x*r+j] = v
			}
		}
	}
}

// toSpaceAdd is toSpaceRow with row = base + the interleaved rows (r = 4
// goes to simd.ToSpaceAdd4 a plane at a time).
func toSpaceAdd(row, base []float32, src [][]float32) {
	r := len(src)
	for j, s := range src {
		for x, v := range s {
			row[x*r+j] = base[x*r+j] + v
		}
	}
}

// toDeep is toSpaceRow's inverse: src[j][x] = row[x·r+j].
func toDeep(row []float32, src [][]float32) {
	switch len(src) {
	case 4:
		s0 := src[0]
		s1, s2, s3 := src[1][:len(s0)], src[2][:len(s0)], src[3][:len(s0)]
		for x := range s0 {
			o := row[4*x : 4*x+4 : 4*x+4]
			s0[x], s1[x], s2[x], s3[x] = o[0], o[1], o[2], o[3]
		}
	default:
		r := len(src)
		for j, s := range src {
			for x := range s {
				s[x] = row[x*r+j]
			}
		}
	}
}

// ScaleChannel returns x ⊙ g[:, :, None, None] for x (N,C,H,W) and g (N,C):
// a per-sample, per-channel scale.
func ScaleChannel(x, g *G.Node) *G.Node {
	k := kernel{
		name: "ScaleChannel",
		in:   []int{4, 2},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if len(s[0]) != 4 || len(s[1]) != 2 || s[0][0] != s[1][0] || s[0][1] != s[1][1] {
				return nil, fmt.Errorf("scalechannel: x %v and g %v do not match", s[0], s[1])
			}
			return s[0].Clone(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			nc, hw := s[0][0]*s[0][1], s[0][2]*s[0][3]
			simd.Parallel(nc, hw, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					simd.Affine(out[i*hw:(i+1)*hw], in[0][i*hw:(i+1)*hw], in[1][i], 0)
				}
			})
			return nil
		},
	}
	k.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{ScaleChannel(grad, in[1]), channelDot(grad, in[0])}, nil
	}
	return apply(k, x, g)
}

// channelDot returns Σ_hw a·b per sample and channel: (N,C) from two
// (N,C,H,W) tensors (the gradient of ScaleChannel's scale).
func channelDot(a, b *G.Node) *G.Node {
	return apply(kernel{
		name: "ChannelDot",
		in:   []int{4, 4},
		out:  2,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if len(s[0]) != 4 || !s[0].Eq(s[1]) {
				return nil, fmt.Errorf("channeldot: shapes %v and %v differ", s[0], s[1])
			}
			return tensor.Shape{s[0][0], s[0][1]}, nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			hw := s[0][2] * s[0][3]
			for i := range out {
				var acc float64
				x, y := in[0][i*hw:(i+1)*hw], in[1][i*hw:(i+1)*hw]
				for j, v := range x {
					acc += float64(v) * float64(y[j])
				}
				out[i] = float32(acc)
			}
			return nil
		},
	}, a, b)
}
