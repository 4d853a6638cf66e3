package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// planes is a convolution's input read one channel plane at a time: a dense
// (N,C,H,W) tensor, or the channels of several tensors side by side (a skip
// concatenation) normalised on the way in (NormConv).
type planes interface {
	// plane returns channel c of sample i (H·W values): a view of the
	// input, or dst (H·W values) filled with it.
	plane(i, c int, dst []float32) []float32
	// prepare readies samples [i0, i1) for plane, on the calling
	// goroutine: the Winograd convolution's pass by groups of samples
	// (winograd.group) calls it on each group before it reads it (a
	// normalised input's statistics, normParts.later); its pass split
	// within samples (convWithin) computes a normParts' statistics whole
	// first instead.
	prepare(i0, i1 int)
}

// dense is a contiguous (N,C,H,W) input.
type dense struct {
	x     []float32
	c, hw int
}

func (dense) prepare(int, int) {}

func (d dense) plane(i, c int, _ []float32) []float32 {
	o := (i*d.c + c) * d.hw
	return d.x[o : o+d.hw]
}

// gather writes sample i's c channels of src into dst (c·hw values), each
// plane stride values after the last.
func gather(dst []float32, src planes, i, c, hw, stride int) {
	for ch := 0; ch < c; ch++ {
		d := dst[ch*stride : ch*stride+hw]
		if p := src.plane(i, ch, d); &p[0] != &d[0] {
			copy(d, p)
		}
	}
}

// NormSpec is the GroupNorm a NormConv applies to its input before the
// convolution (Wu & He 2018), fused with SiLU when SiLU is set. A NormConv
// without GroupNorm parameters ignores it (no SiLU either).
type NormSpec struct {
	Groups int
	Eps    float64
	SiLU   bool
}

// normParts is the input of a NormConv: the channels of its parts, side by
// side, each normalised by its group's statistics (when norm is set) as
// the convolution reads it.
type normParts struct {
	parts [][]float32
	chans []int // channels of each part
	hw, c int   // plane size, total channels
	part  []int // part of each channel
	at    []int // channel within its part
	norm  bool
	silu  bool
	a, b  []float32 // per sample and channel: y = a·x + b
	// The GroupNorm's parameters, and whether the statistics are left to
	// prepare (later).
	gamma, beta []float32
	spec        NormSpec
	pending     bool
}

func (p *normParts) src(i, c int) []float32 {
	k := p.part[c]
	o := (i*p.chans[k] + p.at[c]) * p.hw
	return p.parts[k][o : o+p.hw]
}

func (p *normParts) plane(i, c int, dst []float32) []float32 {
	x := p.src(i, c)
	if !p.norm {
		return x
	}
	j := i*p.c + c
	if p.silu {
		simd.AffineSiLU(dst[:p.hw], x, p.a[j], p.b[j])
	} else {
		simd.Affine(dst[:p.hw], x, p.a[j], p.b[j])
	}
	return dst[:p.hw]
}

// stats computes each sample's and group's mean and 1/σ as GroupNormOp
// does (over the same contiguous values, copied together where a group
// spans two parts, so the figures are the same to the bit) and the affine
// map of every channel, for all n samples across the cores.
func (p *normParts) stats(n int, gamma, beta []float32, spec NormSpec) {
	p.later(n, gamma, beta, spec)
	simd.Parallel(n*spec.Groups, p.c/spec.Groups*p.hw*4, func(lo, hi int) {
		p.statsOf(lo, hi)
	})
	p.pending = false
}

// later sets p up to compute its statistics group by group of samples as
// a convolution reaches them (prepare), instead of all at once: each
// sample's values are then read twice in a row, the second time from the
// cache, where a separate pass over a batch larger than the cache reads
// them twice from memory.
func (p *normParts) later(n int, gamma, beta []float32, spec NormSpec) {
	if cap(p.a) < n*p.c {
		p.a, p.b = make([]float32, n*p.c), make([]float32, n*p.c)
	}
	p.a, p.b = p.a[:n*p.c], p.b[:n*p.c]
	p.gamma, p.beta, p.spec, p.pending = gamma, beta, spec, true
}

// prepare computes the statistics of samples [i0, i1) on the calling
// goroutine when p was set up with later; otherwise it does nothing.
func (p *normParts) prepare(i0, i1 int) {
	if p.pending {
		p.statsOf(i0*p.spec.Groups, i1*p.spec.Groups)
	}
}

// statsOf computes the statistics of units [lo, hi) (sample·groups +
// group), four groups at a time (simd.MeanRstdMany).
func (p *normParts) statsOf(lo, hi int) {
	groups := p.spec.Groups
	cg := p.c / groups
	var tmp []float32
	var xs [4][]float32
	var mean, rstd [4]float64
	for u0 := lo; u0 < hi; u0 += 4 {
		k := min(4, hi-u0)
		for j := range k {
			i, g := (u0+j)/groups, (u0+j)%groups
			c0 := g * cg
			if kp := p.part[c0]; p.part[c0+cg-1] == kp {
				o := (i*p.chans[kp] + p.at[c0]) * p.hw
				xs[j] = p.parts[kp][o : o+cg*p.hw]
				continue
			}
			if tmp == nil {
				tmp = getScratch(4 * cg * p.hw)
				defer putScratch(tmp)
			}
			x := tmp[j*cg*p.hw : (j+1)*cg*p.hw]
			for cc := 0; cc < cg; cc++ {
				copy(x[cc*p.hw:(cc+1)*p.hw], p.src(i, c0+cc))
			}
			xs[j] = x
		}
		simd.MeanRstdMany(xs[:k], p.spec.Eps, mean[:k], rstd[:k])
		for j := range k {
			i, g := (u0+j)/groups, (u0+j)%groups
			for cc := 0; cc < cg; cc++ {
				ch := g*cg + cc
				a := float32(rstd[j]) * p.gamma[ch]
				p.a[i*p.c+ch] = a
				p.b[i*p.c+ch] = p.beta[ch] - float32(mean[j])*a
			}
		}
	}
}

// NormConv is the inference-time form of a ResBlock's
// GroupNorm(+SiLU) → convolution (+ added channel vector, + scaled
// residual): the convolution reads the channels of parts side by side (a
// skip concatenation, never written out) and, when gamma is not nil,
// normalises each plane as it reads it into the transforms' cache-resident
// buffers, instead of the normalised tensor being written whole and read
// back. e, skip and s are ConvAdd's. The result equals the chain of
// ConcatChannels, GroupNormOp, ConvAdd bit for bit.
//
// It has no gradient: training graphs use the unfused ops, whose
// intermediate values the backward pass needs anyway (Graph.Inference).
func NormConv(parts []*G.Node, gamma, beta *G.Node, norm NormSpec, w, b *G.Node, geom ConvGeom, e, skip *G.Node, s float32) *G.Node {
	children := append(G.Nodes(nil), parts...)
	in := make([]int, len(parts))
	for i := range in {
		in[i] = 4
	}
	idx := func(n *G.Node, dims int) int {
		if n == nil {
			return -1
		}
		children = append(children, n)
		in = append(in, dims)
		return len(children) - 1
	}
	if len(parts) == 0 {
		panic("normconv: no input")
	}
	gi, bei := idx(gamma, 1), idx(beta, 1)
	if (gamma == nil) != (beta == nil) {
		panic("normconv: gamma and beta go together")
	}
	wi, bi, ei, si := idx(w, 4), idx(b, 1), idx(e, 2), idx(skip, 4)
	np := len(parts)
	var run normConvRun
	k := kernel{
		name: fmt.Sprintf("NormConv(parts=%d,norm=%t,%+v,%v,bias=%t,e=%t,skip=%t,s=%g)", np, gamma != nil, norm, geom, b != nil, e != nil, skip != nil, s),
		in:   in,
		out:  4,
		shape: func(sh []tensor.Shape) (tensor.Shape, error) {
			xs, err := partsShape("normconv", sh[:np])
			if err != nil {
				return nil, err
			}
			c := xs[1]
			if gi >= 0 {
				if err := checkGroupNorm(xs, sh[gi], sh[bei], norm.Groups); err != nil {
					return nil, err
				}
			}
			ws := sh[wi]
			if len(ws) != 4 || ws[1] != c || ws[2] != geom.KH || ws[3] != geom.KW {
				return nil, fmt.Errorf("normconv: x %v does not fit filters %v (%v)", xs, ws, geom)
			}
			if bi >= 0 && (len(sh[bi]) != 1 || sh[bi][0] != ws[0]) {
				return nil, fmt.Errorf("normconv: bias %v does not fit filters %v", sh[bi], ws)
			}
			ho, wo := geom.Out(xs[2], xs[3])
			if ho <= 0 || wo <= 0 {
				return nil, fmt.Errorf("normconv: input %v too small for %v", xs, geom)
			}
			out := tensor.Shape{xs[0], ws[0], ho, wo}
			if ei >= 0 && !sh[ei].Eq(tensor.Shape{xs[0], ws[0]}) {
				return nil, fmt.Errorf("normconv: added channel vector %v does not fit output %v", sh[ei], out)
			}
			if si >= 0 && !sh[si].Eq(out) {
				return nil, fmt.Errorf("normconv: residual %v does not fit output %v", sh[si], out)
			}
			return out, nil
		},
		do: func(out []float32, args [][]float32, sh []tensor.Shape) error {
			var gamma, beta, bias, ev, sv []float32
			if gi >= 0 {
				gamma, beta = args[gi], args[bei]
			}
			if bi >= 0 {
				bias = args[bi]
			}
			if ei >= 0 {
				ev = args[ei]
			}
			if si >= 0 {
				sv = args[si]
			}
			run.do(out, args[:np], sh[:np], gamma, beta, norm, args[wi], sh[wi], bias, geom, ev, sv, s)
			return nil
		},
		diff: func(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
			return nil, fmt.Errorf("normconv: no gradient (an inference-only fusion; training graphs use the unfused ops)")
		},
	}
	return apply(k, children...)
}

// normConvRun is the state of one NormConv (its packed filters, its
// statistics) and the computation itself, which ResBlockInfer also runs.
type normConvRun struct {
	cs  convState
	src normParts
	epv epilogue
}

// do computes NormConv's output into out: the parts (N, C_k, H, W),
// GroupNorm(+SiLU) by gamma and beta (nil for none), the convolution by w
// (shape ws) and bias (may be nil), plus e (N, O) and s·skip where not nil.
func (r *normConvRun) do(out []float32, parts [][]float32, sh []tensor.Shape, gamma, beta []float32, norm NormSpec, w []float32, ws tensor.Shape, bias []float32, geom ConvGeom, e, skip []float32, s float32) {
	src := &r.src
	n, h, wd := sh[0][0], sh[0][2], sh[0][3]
	src.setParts(parts, sh)
	src.norm, src.silu = gamma != nil, norm.SiLU
	switch {
	case src.norm && r.cs.streams(geom, src.c, ws[0], h, wd) && useWinograd(geom, src.c, ws[0], h, wd):
		// The Winograd convolution prepares each group of samples just
		// before it reads them.
		src.later(n, gamma, beta, norm)
	case src.norm:
		src.stats(n, gamma, beta, norm)
	default:
		src.pending = false
	}
	ep := r.epv.set(e, skip, s)
	xs := tensor.Shape{n, src.c, h, wd}
	var in planes = src
	if len(parts) == 1 && !src.norm {
		in = dense{parts[0], src.c, src.hw}
	}
	if !r.cs.streams(geom, src.c, ws[0], h, wd) {
		// Other paths read the input whole: write it out.
		if len(parts) == 1 && !src.norm {
			r.cs.forward(out, parts[0], w, bias, xs, ws, geom, ep)
			return
		}
		flat := getScratch(n * src.c * src.hw)
		defer putScratch(flat)
		x := flat[:n*src.c*src.hw]
		simd.Parallel(n, src.c*src.hw, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				gather(x[i*src.c*src.hw:], in, i, src.c, src.hw, src.hw)
			}
		})
		r.cs.forward(out, x, w, bias, xs, ws, geom, ep)
		return
	}
	r.cs.stream(out, in, w, bias, xs, ws, geom, ep)
}

// setParts points p at parts of shapes sh (N, C_k, H, W), side by side.
func (p *normParts) setParts(parts [][]float32, sh []tensor.Shape) {
	p.parts = append(p.parts[:0], parts...)
	p.chans, p.part, p.at = p.chans[:0], p.part[:0], p.at[:0]
	for k, s := range sh {
		p.chans = append(p.chans, s[1])
		for c := 0; c < s[1]; c++ {
			p.part = append(p.part, k)
			p.at = append(p.at, c)
		}
	}
	p.hw, p.c = sh[0][2]*sh[0][3], len(p.part)
}

// partsShape returns the shape of the channel concatenation of parts of
// shapes sh (N, C_k, H, W), or an error (prefixed with op) naming a part
// that does not fit the first.
func partsShape(op string, sh []tensor.Shape) (tensor.Shape, error) {
	c := 0
	for i, p := range sh {
		if len(p) != 4 || p[0] != sh[0][0] || p[2] != sh[0][2] || p[3] != sh[0][3] {
			return nil, fmt.Errorf("%s: part %d %v does not fit part 0 %v", op, i, p, sh[0])
		}
		c += p[1]
	}
	return tensor.Shape{sh[0][0], c, sh[0][2], sh[0][3]}, nil
}
