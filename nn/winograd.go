package nn

import (
	"runtime"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// winogradOff disables the Winograd and parity-plane paths (for tests that
// compare them with the direct ones).
var winogradOff bool

// useWinograd reports whether a stride-1 convolution of geom from cin to
// cout channels over h×w runs as Winograd F(2×2, 3×3) (Lavin and Gray,
// CVPR 2016): 3×3 filters with padding 1 on every side, images whose
// transforms fit the vector layout (even height, width a multiple of 8),
// and enough channels for the 16 products to outweigh the transforms.
func useWinograd(geom ConvGeom, cin, cout, h, w int) bool {
	return !winogradOff && geom.KH == 3 && geom.KW == 3 && geom.Stride == 1 &&
		geom.PadT == 1 && geom.PadB == 1 && geom.PadL == 1 && geom.PadR == 1 &&
		simd.WinoFits(h, w) && cin >= 16 && cout >= 16
}

// winograd holds the transformed filters of one convolution, packed for
// the 16 products: U_ξ = (G·g·Gᵀ)[ξ] for each output and input channel.
type winograd struct {
	u     []float32
	pa    [16]simd.PackedA
	cache filterCache // the filters u was made from
}

// prepare transforms the filters w (O,C,3,3) for a convolution from c to o
// channels or, when flip is set, for its input gradient: the convolution
// from o to c channels with the filters swapped and rotated by 180°. It
// does nothing when w is unchanged since the last call (sampling runs the
// same weights step after step).
func (wg *winograd) prepare(w []float32, o, c int, flip bool) {
	cout, cin := o, c
	if flip {
		cout, cin = c, o
	}
	w = w[:o*c*9]
	// The 16 matrices lie mn values apart, padded so that the 16 values
	// one filter writes fall in distinct cache sets (see skew).
	mn := skew(cout * cin)
	f := 0
	if flip {
		f = 1
	}
	if !wg.cache.changed(w, [3]int{o, c, f}) && len(wg.u) == 16*mn {
		return
	}
	if cap(wg.u) < 16*mn {
		wg.u = make([]float32, 16*mn)
	}
	wg.u = wg.u[:16*mn]
	u := wg.u
	simd.Parallel(cout, 16*9*cin, func(lo, hi int) {
		var g [9]float32
		for co := lo; co < hi; co++ {
			for ci := 0; ci < cin; ci++ {
				if flip {
					src := w[(ci*c+co)*9:][:9]
					for i := range g {
						g[i] = src[8-i]
					}
				} else {
					g = [9]float32(w[(co*c+ci)*9:][:9])
				}
				// t = G·g with G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], rows of 3.
				var t [12]float32
				for b := 0; b < 3; b++ {
					g0, g1, g2 := g[b], g[3+b], g[6+b]
					t[b] = g0
					t[3+b] = (g0 + g1 + g2) * 0.5
					t[6+b] = (g0 - g1 + g2) * 0.5
					t[9+b] = g2
				}
				// U = t·Gᵀ, written to position ξ = 4i+j of the 16 matrices.
				at := co*cin + ci
				for i := 0; i < 4; i++ {
					t0, t1, t2 := t[3*i], t[3*i+1], t[3*i+2]
					u[(4*i)*mn+at] = t0
					u[(4*i+1)*mn+at] = (t0 + t1 + t2) * 0.5
					u[(4*i+2)*mn+at] = (t0 - t1 + t2) * 0.5
					u[(4*i+3)*mn+at] = t2
				}
			}
		}
	})
	for xi := range wg.pa {
		wg.pa[xi].Pack(wg.u[xi*mn:], cin, false, cout, cin, 1)
	}
}

// winoBudget is how many values the transformed inputs and outputs of one
// block may take: a core's L2 cache, as the machine reports it
// (simd.MachineCaches: sysfs, or a documented fallback), so that a block's
// 16 products read and write what the cache holds. It was a fixed 160 Ki
// values (640 KiB); on a Zen 4 core (1 MiB of L2) the L2's 256 Ki take a
// 32-channel convolution at 32×32 in whole samples instead of 10 of their
// 16 tile rows (docs/speed.md, "The shell at 32×32", has the paired
// timings). A block's size changes no value: each is the same sum in the
// same order (TestWinogradBlocksSameBits).
var winoBudget = func() int {
	l2 := simd.MachineCaches().L2
	return max(16<<10, l2.Size/max(1, l2.Sharers)/4)
}()

// blockRows returns how many tile rows of a sample one pass transforms:
// enough for the products to fill whole micro-kernel panels, few enough
// for the 16 transformed inputs and outputs to stay in L2.
func blockRows(cin, cout, tx, ty int) int {
	rows := max(1, winoBudget/(16*(cin+cout)*tx))
	if a := max(1, 32/tx); rows >= a {
		rows -= rows % a
	}
	return min(rows, ty)
}

// groupSize returns how many whole samples of t tiles one pass transforms
// together when a sample is smaller than a block (8×8 images have 16
// tiles, half a micro-kernel panel), keeping every core busy.
func groupSize(cin, cout, t, n int) int {
	g := max(1, winoBudget/(16*(cin+cout)*t))
	if a := max(1, 32/t); g >= a {
		g -= g % a
	}
	per := (n + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	return max(1, min(g, per))
}

// conv computes y = conv(x) + bias for n samples of cin×h×w with the
// prepared filters; bias may be nil. Work is split across cores by groups
// of samples; each group is transformed block by block of tile rows:
// parity planes, input transform, 16 products (one per tile position, over
// the channels), and the output transform straight into y with the
// epilogue (may be nil) applied as it writes.
func (wg *winograd) conv(y []float32, x planes, bias []float32, n, cin, cout, h, w int, ep *epilogue) {
	pl := newWinoPlan(n, cin, cout, h, w)
	groups := (n + pl.group - 1) / pl.group
	if !withinOff && groups < runtime.GOMAXPROCS(0) && n*4*cout*cin*h*w >= minParallelWork {
		wg.convWithin(y, x, bias, n, cin, cout, h, w, ep, pl.rows, pl.group, pl.vs, pl.ms)
		return
	}
	out := cout * h * w
	simd.Parallel(groups, pl.group*4*cout*cin*h*w, func(lo, hi int) {
		s := getScratch(pl.scratch())
		defer putScratch(s)
		boff := make([]int, cin)
		var epg epilogue
		for gi := lo; gi < hi; gi++ {
			s0 := gi * pl.group
			g := min(n, s0+pl.group) - s0
			wg.group(&pl, s, boff, y[s0*out:], x, s0, g, bias, ep.from(s0, cout, out, &epg))
		}
	})
}

// winoPlan is how a Winograd convolution of n samples of cin×h×w into cout
// channels goes: rows tile rows of group samples a pass, the transformed
// inputs and products vs and ms values apart.
type winoPlan struct {
	cin, cout, h, w, tx, ty, qs int
	rows, group, vs, ms         int
}

func newWinoPlan(n, cin, cout, h, w int) winoPlan {
	pl := winoPlan{cin: cin, cout: cout, h: h, w: w, tx: w / 2, ty: h / 2, qs: simd.WinoPlaneSize(h, w), group: 1}
	pl.rows = blockRows(cin, cout, pl.tx, pl.ty)
	if pl.rows == pl.ty {
		pl.group = groupSize(cin, cout, pl.tx*pl.ty, n)
	}
	pl.vs, pl.ms = skew(cin*pl.group*pl.rows*pl.tx), skew(cout*pl.group*pl.rows*pl.tx)
	return pl
}

// setGroup makes the plan's passes take g samples (at most pl.group).
func (pl *winoPlan) setGroup(g int) {
	pl.group = g
	pl.vs, pl.ms = skew(pl.cin*g*pl.rows*pl.tx), skew(pl.cout*g*pl.rows*pl.tx)
}

// scratch is the number of values group needs in s.
func (pl *winoPlan) scratch() int {
	return pl.group*pl.cin*pl.qs + 16*pl.vs + 16*pl.ms + pl.h*pl.w
}

// group convolves samples [s0, s0+g) of x (g at most pl.group), after
// x.prepare, into y, whose sample 0 is x's sample s0 (as are ep's views),
// in scratch s (pl.scratch() values) with boff (cin offsets): block by
// block of tile rows, parity planes, input transform, 16 products (one per
// tile position, over the channels), and the output transform straight
// into y with the epilogue (may be nil) applied as it writes.
func (wg *winograd) group(pl *winoPlan, s []float32, boff []int, y []float32, x planes, s0, g int, bias []float32, ep *epilogue) {
	cin, cout, h, w, tx, qs, vs, ms := pl.cin, pl.cout, pl.h, pl.w, pl.tx, pl.qs, pl.vs, pl.ms
	nq := pl.group * cin * qs
	q, v, m := s[:nq], s[nq:nq+16*vs], s[nq+16*vs:nq+16*vs+16*ms]
	tmp := s[nq+16*vs+16*ms:][:h*w] // one plane, normalised on the way in
	x.prepare(s0, s0+g)
	for k := 0; k < g*cin; k++ { // k = sample·cin + channel
		simd.WinoSplit(q[k*qs:], x.plane(s0+k/cin, k%cin, tmp), h, w)
	}
	for ty0 := 0; ty0 < pl.ty; ty0 += pl.rows {
		r := min(pl.rows, pl.ty-ty0)
		per := r * tx
		nb := g * per // columns: sample-major, then tiles
		for ci := range boff {
			boff[ci] = ci * nb
		}
		for ci := 0; ci < cin; ci++ {
			for si := 0; si < g; si++ {
				simd.WinoIn(v[ci*nb+si*per:], vs, q[(si*cin+ci)*qs:], tx, ty0, r)
			}
		}
		for pos := range wg.pa {
			simd.GemmIndirect(&wg.pa[pos], v[pos*vs:], boff, nb, 0, m[pos*ms:], nb)
		}
		for si := 0; si < g; si++ {
			for co := 0; co < cout; co++ {
				winoOutput(y, m[co*nb+si*per:], ms, bias, ep, si, co, cout, h, w, ty0, r)
			}
		}
	}
}

// convWithin is conv for fewer groups of samples than cores (a batch of
// one): each group's phases are split across cores instead — the input
// transform by channel, the 16 products by tile position, the output
// transform by output channel — each value computed as conv computes it,
// so the result is the same to the bit.
func (wg *winograd) convWithin(y []float32, x planes, bias []float32, n, cin, cout, h, w int, ep *epilogue, rows, group, vs, ms int) {
	tx, ty := w/2, h/2
	qs := simd.WinoPlaneSize(h, w)
	s := getScratch(group*cin*qs + 16*vs + 16*ms)
	defer putScratch(s)
	q, v, m := s[:group*cin*qs], s[group*cin*qs:group*cin*qs+16*vs], s[group*cin*qs+16*vs:group*cin*qs+16*vs+16*ms]
	boff := make([]int, cin)
	if p, ok := x.(*normParts); ok && p.pending {
		// All the statistics first, split across the cores.
		p.stats(n, p.gamma, p.beta, p.spec)
	}
	for s0 := 0; s0 < n; s0 += group {
		g := min(n, s0+group) - s0
		simd.Parallel(g*cin, 4*h*w, func(lo, hi int) {
			tmp := getScratch(h * w) // one plane, normalised on the way in
			defer putScratch(tmp)
			for k := lo; k < hi; k++ { // k = sample·cin + channel
				simd.WinoSplit(q[k*qs:], x.plane(s0+k/cin, k%cin, tmp[:h*w]), h, w)
			}
		})
		for ty0 := 0; ty0 < ty; ty0 += rows {
			r := min(rows, ty-ty0)
			per := r * tx
			nb := g * per
			for ci := range boff {
				boff[ci] = ci * nb
			}
			simd.Parallel(cin, 16*g*per, func(lo, hi int) {
				for ci := lo; ci < hi; ci++ {
					for si := 0; si < g; si++ {
						simd.WinoIn(v[ci*nb+si*per:], vs, q[(si*cin+ci)*qs:], tx, ty0, r)
					}
				}
			})
			simd.Parallel(16, cout*cin*nb, func(lo, hi int) {
				for pos := lo; pos < hi; pos++ {
					simd.GemmIndirect(&wg.pa[pos], v[pos*vs:], boff, nb, 0, m[pos*ms:], nb)
				}
			})
			simd.Parallel(cout, 16*g*per, func(lo, hi int) {
				for co := lo; co < hi; co++ {
					for si := 0; si < g; si++ {
						winoOutput(y, m[co*nb+si*per:], ms, bias, ep, s0+si, co, cout, h, w, ty0, r)
					}
				}
			})
		}
	}
}

// winoOutput transforms the products m (16 arrays ms apart) of r tile rows
// from tile row ty0 of output channel co of sample i back into y, adding
// the bias and applying the epilogue as it writes.
func winoOutput(y, m []float32, ms int, bias []float32, ep *epilogue, i, co, cout, h, w, ty0, r int) {
	var b float32
	if bias != nil {
		b = bias[co]
	}
	out := cout * h * w
	at := i*out + co*h*w + 2*ty0*w
	if ep == nil {
		simd.WinoOut(y[at:], m, ms, w/2, r, b)
		return
	}
	var e float32
	if ep.e != nil {
		e = ep.e[i*cout+co]
	}
	var skip []float32
	if ep.skip != nil {
		skip = ep.skip[at:]
	}
	simd.WinoOutAdd(y[at:], m, ms, w/2, r, b, ep.e != nil, e, skip, ep.scale)
}

// skew returns a stride of at least n values for 16 arrays written or read
// side by side: a whole number of 4 KiB pages plus five cache lines, so that
// the 16 streams fall in distinct L1 sets instead of evicting each other
// (and do not alias in the store-to-load forwarding, which compares
// addresses modulo 4 KiB).
func skew(n int) int { return (n+1023)/1024*1024 + 80 }
