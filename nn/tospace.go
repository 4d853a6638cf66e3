package nn

import (
	"fmt"
	"runtime"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// NormConvToSpaceAdd is the inference-time form of a Clockwork adaptor's
// head (Habibian et al., CVPR 2024, Fig. 5: the sub-pixel convolution back
// to r_out's size and the residual from r_out_{t+1}):
//
//	out = base + DepthToSpace(conv1×1(SiLU(GroupNorm(x))) + b, 4)
//
// computed sample by sample, each sample's normalised input and the
// convolution's 16·C planes in a buffer of its core's cache, where the
// unfused chain (GroupNormOp, Conv2d, AddDepthToSpace) writes the whole
// batch's convolution output, 16 times base's size, and reads it back. The
// arithmetic is the unfused chain's, so the result equals it bit for bit.
// x is (N, Cin, H, W), w (16·C, Cin, 1, 1), b (16·C) or nil, base (N, C,
// 4H, 4W); the GroupNorm is norm with gamma and beta. It has no gradient:
// training graphs use the unfused ops (Graph.Inference).
func NormConvToSpaceAdd(x, gamma, beta *G.Node, norm NormSpec, w, b, base *G.Node) *G.Node {
	const r = 4
	children := G.Nodes{x, gamma, beta, w, base}
	in := []int{4, 1, 1, 4, 4}
	if b != nil {
		children = append(children, b)
		in = append(in, 1)
	}
	var packed simd.PackedA
	var filters filterCache
	k := kernel{
		name: fmt.Sprintf("NormConvToSpaceAdd(%+v,bias=%t)", norm, b != nil),
		in:   in,
		out:  4,
		shape: func(sh []tensor.Shape) (tensor.Shape, error) {
			xs, ws, bs := sh[0], sh[3], sh[4]
			if err := checkGroupNorm(xs, sh[1], sh[2], norm.Groups); err != nil {
				return nil, err
			}
			if len(ws) != 4 || ws[1] != xs[1] || ws[2] != 1 || ws[3] != 1 || ws[0]%(r*r) != 0 {
				return nil, fmt.Errorf("normconvtospaceadd: filters %v are not 1×1 from %d channels to a multiple of %d", ws, xs[1], r*r)
			}
			if len(sh) > 5 && (len(sh[5]) != 1 || sh[5][0] != ws[0]) {
				return nil, fmt.Errorf("normconvtospaceadd: bias %v does not fit filters %v", sh[5], ws)
			}
			out := tensor.Shape{xs[0], ws[0] / (r * r), xs[2] * r, xs[3] * r}
			if !bs.Eq(out) {
				return nil, fmt.Errorf("normconvtospaceadd: base %v is not the shape %v of the shuffled output", bs, out)
			}
			return out, nil
		},
		do: func(out []float32, args [][]float32, sh []tensor.Shape) error {
			xs, ws := sh[0], sh[3]
			n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
			o, hw := ws[0], xs[2]*xs[3]
			x, gamma, beta, base := args[0], args[1], args[2], args[4]
			var bias []float32
			if len(args) > 5 {
				bias = args[5]
			}
			// The filters as Conv2d packs a 1×1 convolution's (tapMajor of
			// one tap is the weights themselves).
			if filters.changed(args[3], [3]int{o, c, 1}) {
				packed.Pack(args[3], c, false, o, c, 1)
			}
			l := newWide(Same(1, 1, 0), h, wd)
			cg := c / norm.Groups
			// normalise writes GroupNorm and SiLU of sample i's group g
			// into xn (the sample's c planes), as groupNormForward.
			normalise := func(xn []float32, i, g int) {
				off := (i*c + g*cg) * hw
				mean, rstd := simd.MeanRstd(x[off:off+cg*hw], norm.Eps)
				for cc := 0; cc < cg; cc++ {
					ch := g*cg + cc
					a := float32(rstd) * gamma[ch]
					bb := beta[ch] - float32(mean)*a
					xi := x[off+cc*hw : off+(cc+1)*hw]
					yi := xn[ch*hw : (ch+1)*hw]
					if norm.SiLU {
						simd.AffineSiLU(yi, xi, a, bb)
					} else {
						simd.Affine(yi, xi, a, bb)
					}
				}
			}
			// toSpace adds output channel p's 16 planes y (of sample i) to
			// base, as shuffle.
			toSpace := func(y []float32, i, p int) {
				pl := (i*(o/(r*r)) + p) * r * r * hw
				simd.ToSpaceAdd4(out[pl:pl+r*r*hw], base[pl:pl+r*r*hw], y, h, wd)
			}
			if !withinOff && n < runtime.GOMAXPROCS(0) && n*o*c*hw >= minParallelWork {
				// Fewer samples than cores (a batch of one): the three
				// phases one after the other over the whole batch, each
				// split across cores (the convolution within each sample),
				// every value as below.
				s := getScratch(n*c*hw + n*o*hw)
				defer putScratch(s)
				xn, y := s[:n*c*hw], s[n*c*hw:n*c*hw+n*o*hw]
				simd.Parallel(n*norm.Groups, cg*hw*4, func(lo, hi int) {
					for k := lo; k < hi; k++ {
						i := k / norm.Groups
						normalise(xn[i*c*hw:(i+1)*c*hw], i, k%norm.Groups)
					}
				})
				conv1(y, dense{xn, c, hw}, &packed, bias, n, c, o, l, nil, true)
				simd.Parallel(n*(o/(r*r)), r*r*hw, func(lo, hi int) {
					for q := lo; q < hi; q++ {
						toSpace(y[q*r*r*hw:(q+1)*r*r*hw], q/(o/(r*r)), q%(o/(r*r)))
					}
				})
				return nil
			}
			simd.Parallel(n, o*c*hw, func(lo, hi int) {
				s := getScratch(c*hw + o*hw)
				defer putScratch(s)
				xn, y := s[:c*hw], s[c*hw:c*hw+o*hw]
				for i := lo; i < hi; i++ {
					for g := 0; g < norm.Groups; g++ {
						normalise(xn, i, g)
					}
					// The 1×1 convolution of that one sample on this
					// goroutine (inside a loop over samples, not split
					// again), then each output channel's planes to space.
					conv1(y, dense{xn, c, hw}, &packed, bias, 1, c, o, l, nil, false)
					for p := 0; p < o/(r*r); p++ {
						toSpace(y[p*r*r*hw:(p+1)*r*r*hw], i, p)
					}
				}
			})
			return nil
		},
		diff: func(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
			return nil, fmt.Errorf("normconvtospaceadd: no gradient (an inference-only fusion; training graphs use the unfused ops)")
		},
	}
	return apply(k, children...)
}
