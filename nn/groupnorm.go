package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GroupNormOp returns GroupNorm(x)·gamma + beta over (N,C,H,W) data with the
// given number of groups and epsilon (Wu & He, "Group Normalization", 2018),
// followed by SiLU when silu is set: the pre-activation block of every
// ResBlock fused into one pass. gamma and beta have shape (C).
//
// Statistics are computed per sample and group in float64 and use the biased
// variance, as PyTorch's nn.GroupNorm does.
func GroupNormOp(x, gamma, beta *G.Node, groups int, eps float64, silu bool) *G.Node {
	name := fmt.Sprintf("GroupNorm(g=%d,eps=%g,silu=%t)", groups, eps, silu)
	k := kernel{
		name: name,
		in:   []int{4, 1, 1},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if err := checkGroupNorm(s[0], s[1], s[2], groups); err != nil {
				return nil, err
			}
			return s[0].Clone(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			groupNormForward(in[0], in[1], in[2], out, s[0], groups, eps, silu)
			return nil
		},
	}
	k.diff = func(ins G.Nodes, out, grad *G.Node) (G.Nodes, error) {
		xs := ins[0].Shape()
		c := xs[1]
		packed := apply(kernel{
			name: "GroupNormBackward" + name[len("GroupNorm"):],
			in:   []int{4, 1, 1, 4},
			out:  1,
			shape: func(s []tensor.Shape) (tensor.Shape, error) {
				return tensor.Shape{s[0].TotalSize() + 2*c}, nil
			},
			do: func(out []float32, in [][]float32, s []tensor.Shape) error {
				n := s[0].TotalSize()
				groupNormBackward(in[0], in[1], in[2], in[3], out[:n], out[n:n+c], out[n+c:], s[0], groups, eps, silu)
				return nil
			},
		}, ins[0], ins[1], ins[2], grad)
		n := xs.TotalSize()
		return G.Nodes{
			unpack(packed, 0, xs),
			unpack(packed, n, tensor.Shape{c}),
			unpack(packed, n+c, tensor.Shape{c}),
		}, nil
	}
	return apply(k, x, gamma, beta)
}

func checkGroupNorm(xs, gs, bs tensor.Shape, groups int) error {
	if len(xs) != 4 {
		return fmt.Errorf("groupnorm: input %v is not 4-D", xs)
	}
	c := xs[1]
	if groups <= 0 || c%groups != 0 {
		return fmt.Errorf("groupnorm: %d channels do not split into %d groups", c, groups)
	}
	if len(gs) != 1 || gs[0] != c || len(bs) != 1 || bs[0] != c {
		return fmt.Errorf("groupnorm: weight %v and bias %v must be (%d)", gs, bs, c)
	}
	return nil
}

// groupStats returns the mean and 1/sqrt(var+eps) of one group's values.
func groupStats(x []float32, eps float64) (mean, rstd float64) {
	mean = sum32(x) / float64(len(x))
	var v float64
	for _, a := range x {
		d := float64(a) - mean
		v += d * d
	}
	v /= float64(len(x))
	return mean, 1 / math.Sqrt(v+eps)
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

func groupNormForward(x, gamma, beta, y []float32, s tensor.Shape, groups int, eps float64, silu bool) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	cg := c / groups
	for i := 0; i < n; i++ {
		for g := 0; g < groups; g++ {
			off := (i*c + g*cg) * hw
			mean, rstd := groupStats(x[off:off+cg*hw], eps)
			for cc := 0; cc < cg; cc++ {
				ch := g*cg + cc
				a := float32(rstd) * gamma[ch]
				b := beta[ch] - float32(mean)*a
				xs := x[off+cc*hw : off+(cc+1)*hw]
				ys := y[off+cc*hw : off+(cc+1)*hw]
				if silu {
					for j, v := range xs {
						t := v*a + b
						ys[j] = t * sigmoid(t)
					}
				} else {
					for j, v := range xs {
						ys[j] = v*a + b
					}
				}
			}
		}
	}
}

// groupNormBackward writes the gradients with respect to x, gamma and beta
// given the output gradient gz.
func groupNormBackward(x, gamma, beta, gz, dx, dgamma, dbeta []float32, s tensor.Shape, groups int, eps float64, silu bool) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	cg := c / groups
	m := float64(cg * hw)
	dg := make([]float64, c)
	db := make([]float64, c)
	for i := 0; i < n; i++ {
		for g := 0; g < groups; g++ {
			off := (i*c + g*cg) * hw
			mean, rstd := groupStats(x[off:off+cg*hw], eps)
			// First pass: dy (gradient at the affine output), stored in dx;
			// accumulate dgamma, dbeta and the two group sums of dxhat.
			var sumD, sumDX float64
			for cc := 0; cc < cg; cc++ {
				ch := g*cg + cc
				xs := x[off+cc*hw : off+(cc+1)*hw]
				gs := gz[off+cc*hw : off+(cc+1)*hw]
				ds := dx[off+cc*hw : off+(cc+1)*hw]
				var sg, sb, sd, sdx float64
				for j, v := range xs {
					xh := (float64(v) - mean) * rstd
					dy := gs[j]
					if silu {
						t := float32(xh)*gamma[ch] + beta[ch]
						sig := sigmoid(t)
						dy *= sig * (1 + t*(1-sig))
					}
					ds[j] = dy
					sg += float64(dy) * xh
					sb += float64(dy)
					d := float64(dy) * float64(gamma[ch])
					sd += d
					sdx += d * xh
				}
				dg[ch] += sg
				db[ch] += sb
				sumD += sd
				sumDX += sdx
			}
			meanD, meanDX := sumD/m, sumDX/m
			for cc := 0; cc < cg; cc++ {
				ch := g*cg + cc
				xs := x[off+cc*hw : off+(cc+1)*hw]
				ds := dx[off+cc*hw : off+(cc+1)*hw]
				for j, v := range xs {
					xh := (float64(v) - mean) * rstd
					d := float64(ds[j]) * float64(gamma[ch])
					ds[j] = float32(rstd * (d - meanD - xh*meanDX))
				}
			}
		}
	}
	for ch := 0; ch < c; ch++ {
		dgamma[ch] = float32(dg[ch])
		dbeta[ch] = float32(db[ch])
	}
}

// unpack returns a node viewing the part of a flat packed tensor that starts
// at off and has the given shape, sharing its memory. Ops with several
// gradients compute them in one pass into one packed tensor and unpack them.
func unpack(packed *G.Node, off int, shape tensor.Shape) *G.Node {
	shape = shape.Clone()
	size := shape.TotalSize()
	var cached *tensor.Dense
	return apply(kernel{
		name: fmt.Sprintf("Unpack(%d,%v)", off, shape),
		in:   []int{1},
		out:  len(shape),
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if s[0].TotalSize() < off+size {
				return nil, fmt.Errorf("unpack: %v too small for %v at %d", s[0], shape, off)
			}
			return shape, nil
		},
		view: func(t *tensor.Dense) (*tensor.Dense, error) {
			data := t.Data().([]float32)[off : off+size]
			if cached != nil && &cached.Data().([]float32)[0] == &data[0] {
				return cached, nil
			}
			cached = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
			return cached, nil
		},
	}, packed)
}
