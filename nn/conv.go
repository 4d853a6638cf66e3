package nn

import (
	"runtime"

	"fmt"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
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

// String describes the geometry, as op names use it.
func (c ConvGeom) String() string {
	return fmt.Sprintf("k%dx%d s%d p%d,%d,%d,%d", c.KH, c.KW, c.Stride, c.PadT, c.PadL, c.PadB, c.PadR)
}

// transposed returns the geometry of the stride-1 convolution that computes
// the gradient with respect to the input (a "full" convolution with the
// flipped kernel).
func (c ConvGeom) transposed() ConvGeom {
	return ConvGeom{KH: c.KH, KW: c.KW, Stride: 1,
		PadT: c.KH - 1 - c.PadT, PadL: c.KW - 1 - c.PadL, PadB: c.KH - 1 - c.PadB, PadR: c.KW - 1 - c.PadR}
}

func (c ConvGeom) unpadded() bool { return c.PadT == 0 && c.PadL == 0 && c.PadB == 0 && c.PadR == 0 }

// wide is the layout of a stride-1 convolution computed as one GEMM over a
// zero-padded image: the input padded to hp×wp, the output on the padded
// width (Ho rows of wp, the last wp−Wo of each garbage), truncated after the
// last valid column.
type wide struct {
	geom         ConvGeom
	h, w, ho, wo int
	hp, wp       int
	cols         int   // output columns of the GEMM
	off          []int // offset of each kernel tap in the padded image
	direct       bool  // 1×1 unpadded: the image itself is the operand
}

// wideKey identifies a layout; rowKey its row offsets for c channels.
type wideKey struct {
	geom ConvGeom
	h, w int
}

type rowKey struct {
	wideKey
	c int
}

// layouts memoises layouts and row offsets, which every convolution call
// needs and which depend only on the shapes: computed once, shared
// read-only, so that steady-state steps allocate none.
var layouts = struct {
	sync.Mutex
	wide    map[wideKey]wide
	rows    map[rowKey][]int
	strided map[[2]int][]int
}{wide: map[wideKey]wide{}, rows: map[rowKey][]int{}, strided: map[[2]int][]int{}}

// newWide returns the layout of a convolution of geom over h×w images.
func newWide(geom ConvGeom, h, w int) wide {
	k := wideKey{geom, h, w}
	layouts.Lock()
	defer layouts.Unlock()
	if l, ok := layouts.wide[k]; ok {
		return l
	}
	l := makeWide(geom, h, w)
	layouts.wide[k] = l
	return l
}

func makeWide(geom ConvGeom, h, w int) wide {
	l := wide{geom: geom, h: h, w: w}
	l.ho, l.wo = geom.Out(h, w)
	l.hp, l.wp = h+geom.PadT+geom.PadB, w+geom.PadL+geom.PadR
	l.cols = l.ho*l.wp - (geom.KW - 1)
	for ky := 0; ky < geom.KH; ky++ {
		for kx := 0; kx < geom.KW; kx++ {
			l.off = append(l.off, ky*l.wp+kx)
		}
	}
	l.direct = geom.KH == 1 && geom.KW == 1 && geom.unpadded()
	return l
}

// pad copies c channels of h×w into the zero-padded hp×wp layout.
func (l wide) pad(dst, x []float32, c int) {
	l.padPlanes(dst, dense{x, c, l.h * l.w}, 0, c, nil)
}

// padPlanes copies sample i's c channels of x into the zero-padded hp×wp
// layout; tmp (h·w values, or nil for a dense x) holds a plane x computes.
func (l wide) padPlanes(dst []float32, x planes, i, c int, tmp []float32) {
	g := l.geom
	for ci := 0; ci < c; ci++ {
		xp := x.plane(i, ci, tmp)
		plane := dst[ci*l.hp*l.wp : (ci+1)*l.hp*l.wp]
		clear(plane[:g.PadT*l.wp+g.PadL])
		// Each row, then the right pad and the next row's left pad.
		simd.PadRows(plane[g.PadT*l.wp+g.PadL:], xp, l.h, l.w, l.wp, g.PadR+g.PadL)
		clear(plane[(l.h+g.PadT)*l.wp:])
	}
}

// strided returns the offsets 0, st, 2·st, … of k rows, memoised like
// the layouts (shared: callers must not change it).
func strided(k, st int) []int {
	key := [2]int{k, st}
	layouts.Lock()
	defer layouts.Unlock()
	if o, ok := layouts.strided[key]; ok {
		return o
	}
	o := make([]int, k)
	for p := range o {
		o[p] = p * st
	}
	layouts.strided[key] = o
	return o
}

// rowOffsets returns, for c channels, the offset of row tap·c + ci of the
// shifted operand: channel ci's plane, moved by the tap's offset. The slice
// is shared: callers must not change it.
func (l wide) rowOffsets(c int) []int {
	k := rowKey{wideKey{l.geom, l.h, l.w}, c}
	layouts.Lock()
	defer layouts.Unlock()
	if off, ok := layouts.rows[k]; ok {
		return off
	}
	off := l.makeRowOffsets(c)
	layouts.rows[k] = off
	return off
}

func (l wide) makeRowOffsets(c int) []int {
	plane := l.hp * l.wp
	off := make([]int, len(l.off)*c)
	for t, o := range l.off {
		for ci := 0; ci < c; ci++ {
			off[t*c+ci] = ci*plane + o
		}
	}
	return off
}

// tapMajor reorders filters (O,C,KH,KW) into an O×(taps·C) matrix with
// column tap·C + c, flipping the kernel and swapping O and C when flip is
// set (the filters of the input-gradient convolution).
func tapMajor(dst, w []float32, o, c, kh, kw int, flip bool) {
	taps := kh * kw
	for oi := 0; oi < o; oi++ {
		for ci := 0; ci < c; ci++ {
			for t := 0; t < taps; t++ {
				v := w[(oi*c+ci)*taps+t]
				if flip {
					dst[ci*taps*o+(taps-1-t)*o+oi] = v
				} else {
					dst[oi*taps*c+t*c+ci] = v
				}
			}
		}
	}
}

// conv1 computes a stride-1 convolution y = conv(x) + bias for n samples of
// cin×h×w, given the packed tap-major filters (cout × taps·cin): per sample
// one GEMM that reads the (padded) image in place. bias may be nil. With
// within, a batch smaller than the cores splits each sample across them
// (conv1Within); a caller already running in a parallel loop over samples
// passes false, and conv1 then runs on its goroutine.
func conv1(y []float32, x planes, wt *simd.PackedA, bias []float32, n, cin, cout int, l wide, ep *epilogue, within bool) {
	k := len(l.off) * cin
	inSize, outSize := cin*l.h*l.w, cout*l.ho*l.wo
	boff := l.rowOffsets(cin)
	// Channels whose planes lie a multiple of 2 KiB apart are read by the
	// GEMM from a copy with each plane 64 bytes further on: in place, the
	// rows of a micro-kernel's panel share a few L1 sets and evict each
	// other (a 32×1024×96 product on a Zen 4 core ran at 43 GFLOP/s with
	// the planes 4 KiB apart, 110 with 4 KiB + 64 B; 73 and 107 at 2 KiB).
	hw := l.h * l.w
	skewed := l.direct && hw%512 == 0
	st := hw + 16
	var soff []int
	if skewed {
		soff = strided(len(boff), st)
	}
	if within && l.direct && !withinOff && n < runtime.GOMAXPROCS(0) && n*cout*k*l.cols >= minParallelWork {
		conv1Within(y, x, wt, bias, n, cin, cout, l, ep, boff, skewed, st, soff)
		return
	}
	simd.Parallel(n, cout*k*l.cols, func(lo, hi int) {
		var padLen, wideLen, tmpLen int
		switch {
		case skewed:
			padLen = cin * st
		case !l.direct:
			padLen, wideLen, tmpLen = cin*l.hp*l.wp, cout*l.cols, hw
		}
		s := getScratch(padLen + wideLen + tmpLen)
		defer putScratch(s)
		for i := lo; i < hi; i++ {
			yi := y[i*outSize : (i+1)*outSize]
			if !l.direct {
				// The padded image, the output on its width, then the
				// output rows.
				img, yw := s[:padLen], s[padLen:padLen+wideLen]
				l.padPlanes(img, x, i, cin, s[padLen+wideLen:])
				simd.GemmIndirect(wt, img, boff, l.cols, 0, yw, l.cols)
				for oc := 0; oc < cout; oc++ {
					var b float32
					if bias != nil {
						b = bias[oc]
					}
					simd.AffineRows(yi[oc*l.ho*l.wo:], l.wo, yw[oc*l.cols:], l.wp, l.ho, l.wo, 1, b)
					ep.apply(y, i*outSize+oc*l.ho*l.wo, l.ho*l.wo, i*cout+oc)
				}
				continue
			}
			// A 1×1 convolution: the planes, copied skewed or read in place
			// (a dense input), are the GEMM's rows and its output the
			// output's.
			src, off := s[:padLen], soff
			if skewed {
				gather(src, x, i, cin, hw, st)
			} else {
				src, off = x.(dense).x[i*inSize:(i+1)*inSize], boff
			}
			simd.GemmIndirect(wt, src, off, l.cols, 0, yi, l.cols)
			for oc := 0; oc < cout; oc++ {
				if bias != nil {
					row := yi[oc*l.cols : (oc+1)*l.cols]
					simd.Affine(row, row, 1, bias[oc])
				}
				ep.apply(y, i*outSize+oc*l.cols, l.cols, i*cout+oc)
			}
		}
	})
}

// useParity reports whether a convolution of geom over h×w runs as one GEMM
// over the image's parity planes: 3×3 filters, stride 2, padding 1 on every
// side (the downsampling convolution of diffusers' Downsample2D), on an
// image simd.ParitySplit takes.
func useParity(geom ConvGeom, h, w int) bool {
	return !winogradOff && geom.KH == 3 && geom.KW == 3 && geom.Stride == 2 &&
		geom.PadT == 1 && geom.PadB == 1 && geom.PadL == 1 && geom.PadR == 1 && simd.WinoFits(h, w)
}

// convStride2 computes a stride-2 3×3 convolution with padding 1 plus bias
// (may be nil) for n samples of cin×h×w, given the packed tap-major filters
// (cout × 9·cin). Tap (ky, kx) of output pixel (oy, ox) reads padded pixel
// (2oy+ky, 2ox+kx), which is pixel (oy+ky/2, ox+kx/2) of parity plane
// (ky%2, kx%2): each tap is a shifted view of one plane, and the whole
// convolution one GEMM per sample that reads the planes in place, its
// output on the planes' width (one garbage column per row). The product
// runs over a whole number of 16-column tiles (garbage past the last
// pixel, read from the next plane or a slack after the last): a last tile
// of fewer columns would be copied into a padded panel first (it was 7 of
// 71 columns for an 8×8 output, and 9% of a Clockwork adaptor's time).
// Every column is the same sum in the same order whatever its tile.
func convStride2(y, x []float32, wt *simd.PackedA, bias []float32, n, cin, cout, h, w int) {
	l := w/2 + 1
	ps := (h/2 + 1) * l
	ho, wo := h/2, w/2
	cols := (ho*l - 1 + 15) / 16 * 16
	// A channel's four planes, and after the last channel's the slack its
	// last tile reads past them (the furthest tap starts 3 planes in).
	qs := 4 * ps
	slack := max(0, 3*ps+cols-qs)
	boff := make([]int, 9*cin)
	for ky := 0; ky < 3; ky++ {
		for kx := 0; kx < 3; kx++ {
			for ci := 0; ci < cin; ci++ {
				boff[(ky*3+kx)*cin+ci] = ci*qs + (2*(ky%2)+kx%2)*ps + (ky/2)*l + kx/2
			}
		}
	}
	// rows writes output channels [lo, hi) of sample i from the GEMM's
	// output yw (on the planes' width) with the bias: a sum rounded once,
	// as simd.Affine(dst, src, 1, b) computes it, whose call costs more
	// than the sums on rows shorter than a vector.
	rows := func(yw []float32, i, lo, hi int) {
		yi := y[i*cout*ho*wo : (i+1)*cout*ho*wo]
		for oc := lo; oc < hi; oc++ {
			var b float32
			if bias != nil {
				b = bias[oc]
			}
			for oy := 0; oy < ho; oy++ {
				src := yw[oc*cols+oy*l:][:wo]
				dst := yi[(oc*ho+oy)*wo:][:wo]
				if wo >= 16 {
					simd.Affine(dst, src, 1, b)
					continue
				}
				for x, v := range src {
					dst[x] = v + b
				}
			}
		}
	}
	if !withinOff && n < runtime.GOMAXPROCS(0) && n*cout*9*cin*cols >= minParallelWork {
		// Fewer samples than cores (a batch of one): each sample's parity
		// split, product and output rows are split across cores instead,
		// every value as below.
		s := getScratch(cin*qs + slack + cout*cols)
		defer putScratch(s)
		q, yw := s[:cin*qs+slack], s[cin*qs+slack:]
		for i := 0; i < n; i++ {
			simd.Parallel(cin, 2*h*w, func(lo, hi int) {
				for ci := lo; ci < hi; ci++ {
					simd.ParitySplit(q[ci*qs:], x[(i*cin+ci)*h*w:], h, w)
				}
			})
			gemmByColumns(wt, cout, q, boff, cols, yw)
			simd.Parallel(cout, ho*wo, func(lo, hi int) { rows(yw, i, lo, hi) })
		}
		return
	}
	simd.Parallel(n, cout*9*cin*cols, func(lo, hi int) {
		s := getScratch(cin*qs + slack + cout*cols)
		defer putScratch(s)
		q, yw := s[:cin*qs+slack], s[cin*qs+slack:]
		for i := lo; i < hi; i++ {
			for ci := 0; ci < cin; ci++ {
				simd.ParitySplit(q[ci*qs:], x[(i*cin+ci)*h*w:], h, w)
			}
			simd.GemmIndirect(wt, q, boff, cols, 0, yw, cols)
			rows(yw, i, 0, cout)
		}
	})
}

// Conv2d returns the convolution of x (N,C,H,W) with filters w (O,C,KH,KW)
// plus bias b (O), or without bias when b is nil.
//
// Stride-1 convolutions run as one GEMM per sample whose B operand is packed
// straight from the zero-padded image (simd.Shifted); their input gradient is
// the stride-1 convolution of the output gradient with the flipped filters,
// and their filter gradient one GEMM per sample over the same shifted views.
// Strided convolutions use an explicit im2col matrix.
func Conv2d(x, w, b *G.Node, geom ConvGeom) *G.Node {
	return ConvAdd(x, w, b, geom, nil, nil, 1)
}

// convBackwardData computes the gradient of a convolution with respect to
// its input x of shape xs, from the filters w and the output gradient gy.
func convBackwardData(w, gy *G.Node, xs tensor.Shape, geom ConvGeom) *G.Node {
	xs = xs.Clone()
	var wt []float32
	var packed simd.PackedA
	var wino winograd
	return apply(kernel{
		name: fmt.Sprintf("Conv2dBackwardData(%v,%v)", geom, xs),
		in:   []int{4, 4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			return xs, nil
		},
		do: func(dx []float32, in [][]float32, s []tensor.Shape) error {
			ws, ys := s[0], s[1]
			n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
			o, ho, wo := ws[0], ys[2], ys[3]
			if geom.Stride != 1 {
				im2colBackwardData(dx, in[0], in[1], n, c, h, wd, o, geom)
				return nil
			}
			if useWinograd(geom.transposed(), o, c, ho, wo) {
				wino.prepare(in[0], o, c, true)
				wino.conv(dx, dense{in[1], o, ho * wo}, nil, n, o, c, ho, wo, nil)
				return nil
			}
			taps := geom.KH * geom.KW
			if len(wt) < o*taps*c {
				wt = make([]float32, o*taps*c)
			}
			tapMajor(wt, in[0], o, c, geom.KH, geom.KW, true)
			packed.Pack(wt, taps*o, false, c, taps*o, 1)
			conv1(dx, dense{in[1], o, ho * wo}, &packed, nil, n, o, c, newWide(geom.transposed(), ho, wo), nil, true)
			return nil
		},
	}, w, gy)
}

// convBackwardFilter computes the gradient of a convolution with respect to
// its filters (of shape ws) from the input x and the output gradient gy:
// dW[o][k] = Σₙ Σⱼ dYₙ[o][j]·Xₙ[k][j], where X is the shifted view of the
// padded image (stride 1) or the im2col matrix (strided), computed as
// dWᵀ = Σₙ Xₙ·dYₙᵀ with the rows of X read in place (simd.GemmIndirectA).
// The rows of dWᵀ are split across cores and every core sums over the
// samples in order, so the result does not depend on the number of cores.
func convBackwardFilter(x, gy *G.Node, ws tensor.Shape, geom ConvGeom) *G.Node {
	ws = ws.Clone()
	var dwt []float32
	var pbs []simd.PackedB
	return apply(kernel{
		name: fmt.Sprintf("Conv2dBackwardFilter(%v,%v)", geom, ws),
		in:   []int{4, 4},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			return ws, nil
		},
		do: func(dw []float32, in [][]float32, s []tensor.Shape) error {
			xs, ys := s[0], s[1]
			n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
			o := ws[0]
			taps := geom.KH * geom.KW
			k := taps * c
			// The image operand: the im2col matrix (strided) or the padded
			// image whose shifted rows are the taps (stride 1), with the
			// offset of each of its k rows.
			var cols, imgLen int
			var boff []int
			var fillImg func(i int, dst []float32)
			tapFirst := geom.Stride == 1
			if !tapFirst {
				cols = ys[2] * ys[3]
				imgLen = k * cols
				boff = rowStarts(k, cols)
				fillImg = func(i int, dst []float32) {
					im2col(in[0][i*c*h*wd:(i+1)*c*h*wd], c, h, wd, geom, dst)
				}
			} else {
				l := newWide(geom, h, wd)
				cols = l.cols
				imgLen = c * l.hp * l.wp
				boff = l.rowOffsets(c)
				fillImg = func(i int, dst []float32) { l.pad(dst, in[0][i*c*h*wd:(i+1)*c*h*wd], c) }
			}
			ho, wo := ys[2], ys[3]
			wpitch := wo // distance between output rows in the image operand's columns
			if tapFirst {
				wpitch = newWide(geom, h, wd).wp
			}
			// Per sample, the image (read in place as the A operand) and
			// dYᵀ packed as the B operand, prepared once for all cores.
			pbLen := simd.PackedBSize(cols, o)
			imgs, packs := getScratch(n*imgLen), getScratch(n*pbLen)
			defer putScratch(imgs)
			defer putScratch(packs)
			if cap(pbs) < n {
				pbs = make([]simd.PackedB, n)
			}
			pbs = pbs[:n]
			simd.Parallel(n, imgLen+o*cols, func(lo, hi int) {
				g := getScratch(o * cols)
				defer putScratch(g)
				for i := lo; i < hi; i++ {
					fillImg(i, imgs[i*imgLen:(i+1)*imgLen])
					// dY on the layout of the image's rows, zero in the
					// garbage columns.
					clear(g)
					for oc := 0; oc < o; oc++ {
						for oy := 0; oy < ho; oy++ {
							copy(g[oc*cols+oy*wpitch:], in[1][((i*o+oc)*ho+oy)*wo:][:wo])
						}
					}
					pbs[i] = simd.PackB(packs[i*pbLen:(i+1)*pbLen], simd.DenseB(g, cols, true), cols, o)
				}
			})
			imgOf := func(i int) []float32 { return imgs[i*imgLen : (i+1)*imgLen] }
			if len(dwt) < o*k {
				dwt = make([]float32, o*k)
			}
			// dWᵀ (k×o) = Σₙ Xₙ·dYₙᵀ.
			simd.Parallel((k+7)/8, 8*o*cols*n, func(lo, hi int) {
				r0, r1 := lo*8, min(hi*8, k)
				for i := 0; i < n; i++ {
					beta := float32(1)
					if i == 0 {
						beta = 0
					}
					simd.GemmIndirectA(r1-r0, imgOf(i), boff[r0:r1], pbs[i], beta, dwt[r0*o:], o)
				}
			})
			clear(pbs) // they point into scratch handed back below
			for oi := 0; oi < o; oi++ {
				for ci := 0; ci < c; ci++ {
					for t := 0; t < taps; t++ {
						r := ci*taps + t // im2col rows are (c, tap)
						if tapFirst {
							r = t*c + ci
						}
						dw[(oi*c+ci)*taps+t] = dwt[r*o+oi]
					}
				}
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
			simd.Parallel(c, n*hw, func(lo, hi int) {
				for ci := lo; ci < hi; ci++ {
					var acc float64
					for i := 0; i < n; i++ {
						acc += sum32(in[0][(i*c+ci)*hw : (i*c+ci+1)*hw])
					}
					out[ci] = float32(acc)
				}
			})
			return nil
		},
	}, x)
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}

// sum32 sums float32 values: vector lanes of float32 partial sums
// (simd.SumDev), added up in float64.
func sum32(x []float32) float64 {
	s, _ := simd.SumDev(x, 0)
	return s
}
