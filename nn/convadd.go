package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// ConvAdd returns a convolution followed by what a ResBlock adds to it,
// fused into the convolution's output pass:
//
//	y = conv(x, w) + b + e[:, :, None, None]   (AddChannel; e (N,O) may be nil)
//	y = s·skip + s·y                           (AddScaled(skip, y, s); skip may be nil)
//
// The additions run on each block of the output as the convolution writes
// it, while it is in cache, instead of as passes of their own over the
// whole tensor (the shell of the Clockwork split, at 32 channels, spent a
// tenth of its time on them). The arithmetic is that of AddChannel and
// AddScaled, so the result equals the unfused chain's bit for bit where
// each output plane fills whole vectors (H·W a multiple of 16: every
// Winograd shape and every shipped model's); elsewhere a residual scaled
// by s ≠ 1 can differ in the last bit, the scalar tail of each plane
// rounding a multiply and an add that the vector body fuses. The gradients
// are built from the same ops as the unfused chain's.
func ConvAdd(x, w, b *G.Node, geom ConvGeom, e, skip *G.Node, s float32) *G.Node {
	children := G.Nodes{x, w}
	in := []int{4, 4}
	bi, ei, si := -1, -1, -1
	if b != nil {
		bi = len(children)
		children = append(children, b)
		in = append(in, 1)
	}
	if e != nil {
		ei = len(children)
		children = append(children, e)
		in = append(in, 2)
	}
	if skip != nil {
		si = len(children)
		children = append(children, skip)
		in = append(in, 4)
	}
	var cs convState
	var epv epilogue
	name := "Conv2d(" + geom.String() + fmt.Sprintf(",bias=%t)", b != nil)
	if e != nil || skip != nil {
		name = "ConvAdd(" + geom.String() + fmt.Sprintf(",bias=%t,e=%t,skip=%t,s=%g)", b != nil, e != nil, skip != nil, s)
	}
	k := kernel{
		name: name,
		in:   in,
		out:  4,
		shape: func(sh []tensor.Shape) (tensor.Shape, error) {
			xs, ws := sh[0], sh[1]
			if len(xs) != 4 || len(ws) != 4 {
				return nil, fmt.Errorf("conv2d: x %v and w %v must both be 4-D", xs, ws)
			}
			if xs[1] != ws[1] || ws[2] != geom.KH || ws[3] != geom.KW {
				return nil, fmt.Errorf("conv2d: x %v does not fit filters %v (%v)", xs, ws, geom)
			}
			if bi >= 0 && (len(sh[bi]) != 1 || sh[bi][0] != ws[0]) {
				return nil, fmt.Errorf("conv2d: bias %v does not fit filters %v", sh[bi], ws)
			}
			ho, wo := geom.Out(xs[2], xs[3])
			if ho <= 0 || wo <= 0 {
				return nil, fmt.Errorf("conv2d: input %v too small for %v", xs, geom)
			}
			out := tensor.Shape{xs[0], ws[0], ho, wo}
			if ei >= 0 && !sh[ei].Eq(tensor.Shape{xs[0], ws[0]}) {
				return nil, fmt.Errorf("conv2d: added channel vector %v does not fit output %v", sh[ei], out)
			}
			if si >= 0 && !sh[si].Eq(out) {
				return nil, fmt.Errorf("conv2d: residual %v does not fit output %v", sh[si], out)
			}
			return out, nil
		},
		do: func(out []float32, in [][]float32, sh []tensor.Shape) error {
			var bias []float32
			if bi >= 0 {
				bias = in[bi]
			}
			var e, skip []float32
			if ei >= 0 {
				e = in[ei]
			}
			if si >= 0 {
				skip = in[si]
			}
			ep := epv.set(e, skip, s)
			cs.forward(out, in[0], in[1], bias, sh[0], sh[1], geom, ep)
			return nil
		},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		gy := grad
		var gs []*G.Node
		if si >= 0 {
			// AddScaled's gradient: s·grad to both the residual and the
			// convolution's branch.
			if s != 1 {
				gy = Scale(grad, s)
			}
		}
		dx := convBackwardData(ins[1], gy, ins[0].Shape(), geom)
		dw := convBackwardFilter(ins[0], gy, ins[1].Shape(), geom)
		gs = append(gs, dx, dw)
		if bi >= 0 {
			gs = append(gs, SumNHW(gy))
		}
		if ei >= 0 {
			gs = append(gs, SumHW(gy))
		}
		if si >= 0 {
			gs = append(gs, gy)
		}
		return gs, nil
	}
	return apply(k, children...)
}

// epilogue is what a fused convolution adds to its output (see ConvAdd): a
// channel vector per sample, then a scaled residual.
type epilogue struct {
	e     []float32 // (N,O) or nil
	skip  []float32 // like the output, or nil
	scale float32
}

// apply runs the epilogue on out[off:off+n], which lies in output channel
// ch (sample·O + channel).
func (ep *epilogue) apply(out []float32, off, n, ch int) {
	if ep == nil {
		return
	}
	y := out[off : off+n]
	if ep.e != nil {
		simd.Affine(y, y, 1, ep.e[ch])
	}
	if ep.skip != nil {
		simd.AXPBYC(y, ep.skip[off:off+n], y, ep.scale, ep.scale, 0)
	}
}

// set fills ep with e and s·skip (nil for none) and returns it, or nil
// when the op adds nothing.
func (ep *epilogue) set(e, skip []float32, s float32) *epilogue {
	if e == nil && skip == nil {
		return nil
	}
	*ep = epilogue{e: e, skip: skip, scale: s}
	return ep
}

// from returns the epilogue of an output's samples from s0 on (out values
// a sample, o channels), in dst, or nil when ep is nil.
func (ep *epilogue) from(s0, o, out int, dst *epilogue) *epilogue {
	if ep == nil {
		return nil
	}
	*dst = *ep
	if ep.e != nil {
		dst.e = ep.e[s0*o:]
	}
	if ep.skip != nil {
		dst.skip = ep.skip[s0*out:]
	}
	return dst
}

// all runs the epilogue over a whole output of nc channels of hw values.
func (ep *epilogue) all(out []float32, nc, hw int) {
	if ep == nil {
		return
	}
	simd.Parallel(nc, hw, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			ep.apply(out, ch*hw, hw, ch)
		}
	})
}

// convState is what one convolution op keeps between runs: its filters in
// the layout of the path it takes.
type convState struct {
	wt      []float32
	packed  simd.PackedA
	filters filterCache // the filters packed holds
	wino    winograd
}

// forward computes out = conv(x, w) + bias (bias may be nil), then the
// epilogue (may be nil), choosing the path by the geometry.
func (cs *convState) forward(out, x, w, bias []float32, xs, ws tensor.Shape, geom ConvGeom, ep *epilogue) {
	n, c, h, wd, o := xs[0], xs[1], xs[2], xs[3], ws[0]
	if useParity(geom, h, wd) {
		cs.pack(w, o, c, 3, 3)
		convStride2(out, x, &cs.packed, bias, n, c, o, h, wd)
		ho, wo := geom.Out(h, wd)
		ep.all(out, n*o, ho*wo)
		return
	}
	if geom.Stride != 1 {
		im2colForward(out, x, w, bias, n, c, h, wd, o, geom)
		ho, wo := geom.Out(h, wd)
		ep.all(out, n*o, ho*wo)
		return
	}
	cs.stream(out, dense{x, c, h * wd}, w, bias, xs, ws, geom, ep)
}

// pack packs the filters w (o, c, kh, kw) tap-major into cs.packed, unless
// they are the ones it holds already.
func (cs *convState) pack(w []float32, o, c, kh, kw int) {
	taps := kh * kw
	w = w[:o*c*taps]
	if !cs.filters.changed(w, [3]int{o, c, kh*16 + kw}) {
		return
	}
	if len(cs.wt) < o*taps*c {
		cs.wt = make([]float32, o*taps*c)
	}
	tapMajor(cs.wt, w, o, c, kh, kw, false)
	cs.packed.Pack(cs.wt, taps*c, false, o, taps*c, 1)
}

// streams reports whether a stride-1 convolution reads its input one
// channel plane at a time (all but the 1×1 ones that read the planes in
// place, where they are not a multiple of 2 KiB apart), so that it can
// take planes that are not a dense tensor.
func (cs *convState) streams(geom ConvGeom, c, o, h, w int) bool {
	if useParity(geom, h, w) || geom.Stride != 1 {
		return false
	}
	direct := geom.KH == 1 && geom.KW == 1 && geom.unpadded()
	return useWinograd(geom, c, o, h, w) || !direct || (h*w)%512 == 0
}

// stream computes a stride-1 convolution of x (dense, or planes where
// streams says so) plus bias, then the epilogue.
func (cs *convState) stream(out []float32, x planes, w, bias []float32, xs, ws tensor.Shape, geom ConvGeom, ep *epilogue) {
	n, c, h, wd, o := xs[0], xs[1], xs[2], xs[3], ws[0]
	if useWinograd(geom, c, o, h, wd) {
		cs.wino.prepare(w, o, c, false)
		cs.wino.conv(out, x, bias, n, c, o, h, wd, ep)
		return
	}
	cs.pack(w, o, c, geom.KH, geom.KW)
	conv1(out, x, &cs.packed, bias, n, c, o, newWide(geom, h, wd), ep, true)
}
