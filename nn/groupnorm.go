package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
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

func groupNormForward(x, gamma, beta, y []float32, s tensor.Shape, groups int, eps float64, silu bool) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	cg := c / groups
	simd.Parallel(n*groups, cg*hw*8, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			i, g := u/groups, u%groups
			off := (i*c + g*cg) * hw
			mean, rstd := simd.MeanRstd(x[off:off+cg*hw], eps)
			for cc := 0; cc < cg; cc++ {
				ch := g*cg + cc
				a := float32(rstd) * gamma[ch]
				b := beta[ch] - float32(mean)*a
				xs := x[off+cc*hw : off+(cc+1)*hw]
				ys := y[off+cc*hw : off+(cc+1)*hw]
				if silu {
					simd.AffineSiLU(ys, xs, a, b)
				} else {
					simd.Affine(ys, xs, a, b)
				}
			}
		}
	})
}

// groupNormBackward writes the gradients with respect to x, gamma and beta
// given the output gradient gz. Per-sample partial sums of the gamma and
// beta gradients are reduced in sample order, so the result does not depend
// on how the work is split across cores.
func groupNormBackward(x, gamma, beta, gz, dx, dgamma, dbeta []float32, s tensor.Shape, groups int, eps float64, silu bool) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	cg := c / groups
	m := float64(cg * hw)
	dg := make([]float64, n*c)
	db := make([]float64, n*c)
	simd.Parallel(n*groups, cg*hw*16, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			i, g := u/groups, u%groups
			off := (i*c + g*cg) * hw
			mean, rstd := simd.MeanRstd(x[off:off+cg*hw], eps)
			// First pass: the gradient at the affine output, stored in dx,
			// and the per-channel sums for gamma, beta and the group.
			var sumD, sumDX float64
			for cc := 0; cc < cg; cc++ {
				ch := g*cg + cc
				sl := off + cc*hw
				sdx, sd := simd.GNBackward(dx[sl:sl+hw], gz[sl:sl+hw], x[sl:sl+hw], float32(mean), float32(rstd), gamma[ch], beta[ch], silu)
				dg[i*c+ch], db[i*c+ch] = sdx, sd
				sumD += sd * float64(gamma[ch])
				sumDX += sdx * float64(gamma[ch])
			}
			// dx = rstd·(γ·dy − mean(γ·dy) − x̂·mean(γ·dy·x̂)), affine in dy and x.
			meanD, meanDX := sumD/m, sumDX/m
			for cc := 0; cc < cg; cc++ {
				ch := g*cg + cc
				sl := off + cc*hw
				a := float32(rstd) * gamma[ch]
				b := float32(-rstd * rstd * meanDX)
				c0 := float32(rstd * (rstd*meanDX*mean - meanD))
				simd.AXPBYC(dx[sl:sl+hw], dx[sl:sl+hw], x[sl:sl+hw], a, b, c0)
			}
		}
	})
	for ch := 0; ch < c; ch++ {
		var sg, sb float64
		for i := 0; i < n; i++ {
			sg += dg[i*c+ch]
			sb += db[i*c+ch]
		}
		dgamma[ch] = float32(sg)
		dbeta[ch] = float32(sb)
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
			data := t.Float32s()[off : off+size]
			if cached != nil && &cached.Float32s()[0] == &data[0] {
				return cached, nil
			}
			cached = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
			return cached, nil
		},
	}, packed)
}
