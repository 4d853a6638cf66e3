package nn

import (
	"fmt"
	"runtime"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// fuseOff makes ResBlock.ApplyParts build the chain of NormConvs instead
// of ResBlockInfer (for tests that compare the two).
var fuseOff bool

// blockFuses reports whether ResBlockInfer runs a block of parts of these
// shapes (N, C_k, H, W) into out channels group by group of samples: both
// 3×3 convolutions Winograd ones, and either a 1×1 shortcut or one part
// and as many output channels (the residual is the input; a residual that
// is a concatenation of parts is not taken). Otherwise ApplyParts builds
// the chain of NormConvs.
func blockFuses(sh []tensor.Shape, out int) bool {
	if fuseOff || len(sh) == 0 {
		return false
	}
	cin := 0
	for _, s := range sh {
		if len(s) != 4 {
			return false
		}
		cin += s[1]
	}
	h, w := sh[0][2], sh[0][3]
	same := Same(3, 1, 1)
	if !useWinograd(same, cin, out, h, w) || !useWinograd(same, out, out, h, w) {
		return false
	}
	return cin != out || len(sh) == 1
}

// ResBlockInfer is the inference-time ResBlock of ApplyParts where
// blockFuses says so: GroupNorm+SiLU → 3×3 convolution (+ e) → GroupNorm+SiLU
// → 3×3 convolution + s·residual, the residual the input itself or its 1×1
// shortcut (wsc, bsc; nil for none). Where the chain of NormConvs writes h,
// the first convolution's output, and the shortcut whole and reads them back
// (a batch of 100 32-channel 32×32 samples is 13 MB a tensor, out of every
// cache), this op runs both convolutions and the shortcut on one group of
// samples after another, so that each reads what the one before wrote from
// the core's cache (ResNet blocks as one unit, as inference engines fuse
// them; He et al. 2016 for the block). Every value is computed as the chain
// computes it, so the output is the same to the bit; a batch of fewer
// groups than cores runs as the chain (each convolution split across the
// cores).
func ResBlockInfer(parts []*G.Node, gamma1, beta1 *G.Node, norm NormSpec, w1, b1, e, gamma2, beta2, w2, b2, wsc, bsc *G.Node, s float32) *G.Node {
	if len(parts) == 0 {
		panic("resblock: no input")
	}
	np := len(parts)
	children := append(G.Nodes(nil), parts...)
	in := make([]int, np)
	for i := range in {
		in[i] = 4
	}
	for _, c := range []struct {
		n    *G.Node
		dims int
	}{{gamma1, 1}, {beta1, 1}, {w1, 4}, {b1, 1}, {e, 2}, {gamma2, 1}, {beta2, 1}, {w2, 4}, {b2, 1}} {
		if c.n == nil {
			panic("resblock: a missing parameter")
		}
		children = append(children, c.n)
		in = append(in, c.dims)
	}
	short := wsc != nil
	if short {
		if bsc == nil {
			panic("resblock: a shortcut without its bias")
		}
		children = append(children, wsc, bsc)
		in = append(in, 4, 1)
	}
	const (
		ig1 = iota
		ib1
		iw1
		ibias1
		ie
		ig2
		ib2
		iw2
		ibias2
		iwsc
		ibsc
	)
	same := Same(3, 1, 1)
	var r1, r2, rsc normConvRun
	var w1s, w2s winograd
	var sc convState
	k := kernel{
		name: fmt.Sprintf("ResBlockInfer(parts=%d,%+v,shortcut=%t,s=%g)", np, norm, short, s),
		in:   in,
		out:  4,
		shape: func(sh []tensor.Shape) (tensor.Shape, error) {
			xs, err := partsShape("resblock", sh[:np])
			if err != nil {
				return nil, err
			}
			n, c, h, w := xs[0], xs[1], xs[2], xs[3]
			a := sh[np:]
			o := 0
			if len(a[iw1]) == 4 {
				o = a[iw1][0]
			}
			if err := checkGroupNorm(xs, a[ig1], a[ib1], norm.Groups); err != nil {
				return nil, err
			}
			if err := checkGroupNorm(tensor.Shape{n, o, h, w}, a[ig2], a[ib2], norm.Groups); err != nil {
				return nil, err
			}
			check := func(what string, ws, bs tensor.Shape, cin, kk int) error {
				if !ws.Eq(tensor.Shape{o, cin, kk, kk}) || !bs.Eq(tensor.Shape{o}) {
					return fmt.Errorf("resblock: %s filters %v and bias %v do not fit %d input channels", what, ws, bs, cin)
				}
				return nil
			}
			if err := check("conv1", a[iw1], a[ibias1], c, 3); err != nil {
				return nil, err
			}
			if err := check("conv2", a[iw2], a[ibias2], o, 3); err != nil {
				return nil, err
			}
			if short {
				if err := check("shortcut", a[iwsc], a[ibsc], c, 1); err != nil {
					return nil, err
				}
			} else if c != o || np > 1 {
				return nil, fmt.Errorf("resblock: %d parts of %d channels in all, %d output channels and no shortcut: the residual must be one part of the output's channels", np, c, o)
			}
			if !a[ie].Eq(tensor.Shape{n, o}) {
				return nil, fmt.Errorf("resblock: added channel vector %v does not fit (%d, %d)", a[ie], n, o)
			}
			return tensor.Shape{n, o, h, w}, nil
		},
		do: func(out []float32, args [][]float32, sh []tensor.Shape) error {
			a, as := args[np:], sh[np:]
			n, h, wd := sh[0][0], sh[0][2], sh[0][3]
			o, hw := as[iw1][0], h*wd
			cin := as[iw1][1]
			size := n * o * hw
			pl1 := newWinoPlan(n, cin, o, h, wd)
			pl2 := newWinoPlan(n, o, o, h, wd)
			group := min(pl1.group, pl2.group)
			pl1.setGroup(group)
			pl2.setGroup(group)
			groups := (n + group - 1) / group
			if !useWinograd(same, cin, o, h, wd) || !useWinograd(same, o, o, h, wd) || groups < runtime.GOMAXPROCS(0) {
				// The chain of NormConvs, each split across the cores.
				hv := getScratch(size)
				defer putScratch(hv)
				hv = hv[:size]
				r1.do(hv, args[:np], sh[:np], a[ig1], a[ib1], norm, a[iw1], as[iw1], a[ibias1], same, a[ie], nil, 1)
				skip := args[0]
				if short {
					sv := getScratch(size)
					defer putScratch(sv)
					skip = sv[:size]
					rsc.do(skip, args[:np], sh[:np], nil, nil, NormSpec{}, a[iwsc], as[iwsc], a[ibsc], Same(1, 1, 0), nil, nil, 1)
				}
				r2.do(out, [][]float32{hv}, []tensor.Shape{{n, o, h, wd}}, a[ig2], a[ib2], norm, a[iw2], as[iw2], a[ibias2], same, nil, skip, s)
				return nil
			}
			w1s.prepare(a[iw1], o, cin, false)
			w2s.prepare(a[iw2], o, o, false)
			src := &r1.src
			src.setParts(args[:np], sh[:np])
			src.norm, src.silu = true, norm.SiLU
			src.later(n, a[ig1], a[ib1], norm)
			raw := normParts{parts: src.parts, chans: src.chans, hw: src.hw, c: src.c, part: src.part, at: src.at}
			// The shortcut reads a copy of each sample's planes, as conv1
			// reads them: 64 bytes apart where they are a multiple of 2
			// KiB, side by side otherwise (conv1 then reads the input in
			// place, here the copy: the same values).
			var soff []int
			st := hw
			if short {
				sc.pack(a[iwsc], o, cin, 1, 1)
				if l := newWide(Same(1, 1, 0), h, wd); hw%512 == 0 {
					st = hw + 16
					soff = strided(len(l.rowOffsets(cin)), st)
				} else {
					soff = l.rowOffsets(cin)
				}
			}
			e := epilogue{e: a[ie], scale: 1}
			simd.Parallel(groups, group*4*o*(cin+o)*hw, func(lo, hi int) {
				// One scratch for both convolutions, which run in turn: two
				// would take twice the cache.
				ws := getScratch(max(pl1.scratch(), pl2.scratch()))
				defer putScratch(ws)
				hv := getScratch(group * o * hw)
				defer putScratch(hv)
				var sv, skew []float32
				if short {
					sv = getScratch(group * o * hw)
					defer putScratch(sv)
					skew = getScratch(cin * st)
					defer putScratch(skew)
				}
				boff1, boff2 := make([]int, cin), make([]int, o)
				var src2 normParts
				var e1, e2 epilogue
				for gi := lo; gi < hi; gi++ {
					s0 := gi * group
					g := min(n, s0+group) - s0
					// The shortcut first: it reads the input from memory,
					// the first convolution then from the cache.
					ep2 := epilogue{scale: s}
					if short {
						for si := 0; si < g; si++ {
							yi := sv[si*o*hw : (si+1)*o*hw]
							gather(skew, &raw, s0+si, cin, hw, st)
							simd.GemmIndirect(&sc.packed, skew, soff, hw, 0, yi, hw)
							for oc := 0; oc < o; oc++ {
								row := yi[oc*hw : (oc+1)*hw]
								simd.Affine(row, row, 1, a[ibsc][oc])
							}
						}
						ep2.skip = sv
					} else {
						ep2.skip = args[0][s0*o*hw:]
					}
					w1s.group(&pl1, ws, boff1, hv, src, s0, g, a[ibias1], e.from(s0, o, o*hw, &e1))
					src2.setParts([][]float32{hv[:g*o*hw]}, []tensor.Shape{{g, o, h, wd}})
					src2.norm, src2.silu = true, norm.SiLU
					src2.later(g, a[ig2], a[ib2], norm)
					e2 = ep2
					w2s.group(&pl2, ws, boff2, out[s0*o*hw:], &src2, 0, g, a[ibias2], &e2)
				}
			})
			return nil
		},
		diff: func(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
			return nil, fmt.Errorf("resblock: no gradient (an inference-only fusion; training graphs use the unfused ops)")
		},
	}
	return apply(k, children...)
}
