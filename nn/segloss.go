package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// Losses of dense (per-pixel) classification: logits z (N,K,H,W) over K
// classes and labels (N,H,W) holding class ids 0..K−1 as float32 values.

// checkPixelShapes checks logits z (N,K,H,W) against per-pixel maps (N,H,W).
func checkPixelShapes(name string, z tensor.Shape, maps ...tensor.Shape) error {
	if len(z) != 4 {
		return fmt.Errorf("%s: logits %v are not 4-D (N,K,H,W)", name, z)
	}
	for _, m := range maps {
		if len(m) != 3 || m[0] != z[0] || m[1] != z[2] || m[2] != z[3] {
			return fmt.Errorf("%s: per-pixel map %v does not fit logits %v (want (%d,%d,%d))", name, m, z, z[0], z[2], z[3])
		}
	}
	return nil
}

// checkLabels returns an error naming the first label that is not a class
// id in [0, k): out of range, fractional or NaN.
func checkLabels(name string, labels []float32, k int, z tensor.Shape) error {
	h, w := z[2], z[3]
	for i, v := range labels {
		if !(v >= 0 && v < float32(k)) || v != float32(int(v)) {
			return fmt.Errorf("%s: label %v at sample %d, pixel (%d,%d) is not a class id in [0, %d): the logits have %d classes",
				name, v, i/(h*w), i/w%h, i%w, k, k)
		}
	}
	return nil
}

// pixelSoftmax fills p (k values) with the softmax over the classes of the
// pixel at offset off of logits z whose class planes are hw apart, and
// returns log Σ exp z.
func pixelSoftmax(p []float64, z []float32, off, hw int) float64 {
	m := math.Inf(-1)
	for j := range p {
		m = math.Max(m, float64(z[off+j*hw]))
	}
	var s float64
	for j := range p {
		e := math.Exp(float64(z[off+j*hw]) - m)
		p[j] = e
		s += e
	}
	for j := range p {
		p[j] /= s
	}
	return m + math.Log(s)
}

// WeightedSoftmaxCE2d returns the pixel-weighted cross-entropy of the
// U-Net (Ronneberger et al., MICCAI 2015, Eq. 1),
//
//	(1/(N·H·W)) Σ_pixels w·(−log softmax(z)[label]),
//
// a float32 scalar, for logits z (N,K,H,W), labels (N,H,W) holding class
// ids 0..K−1 and per-pixel weights (N,H,W) (the paper's weight map, which
// balances the classes and stresses the borders between touching objects;
// all ones for plain cross-entropy). It equals PyTorch's
// (F.cross_entropy(z, labels, reduction="none")·weights).mean(), computed
// stably in float64. A label that is not a class id in [0, K) is an error
// at run time naming it and K. It is differentiable with respect to z only;
// the gradient is w·(softmax(z) − onehot(label))/(N·H·W).
func WeightedSoftmaxCE2d(z, labels, weights *G.Node) *G.Node {
	const name = "weighted cross-entropy"
	var partial []float64
	k := kernel{
		name: "WeightedSoftmaxCE2d",
		in:   []int{4, 3, 3},
		out:  0,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if err := checkPixelShapes(name, s[0], s[1], s[2]); err != nil {
				return nil, err
			}
			return tensor.ScalarShape(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			zs := s[0]
			n, kk, h, w := zs[0], zs[1], zs[2], zs[3]
			if err := checkLabels(name, in[1], kk, zs); err != nil {
				return err
			}
			hw := h * w
			if len(partial) != n*h {
				partial = make([]float64, n*h)
			}
			simd.Parallel(n*h, 8*kk*w, func(lo, hi int) {
				p := make([]float64, kk)
				for u := lo; u < hi; u++ {
					i, y := u/h, u%h
					var acc float64
					for x := 0; x < w; x++ {
						px := i*hw + y*w + x
						off := i*kk*hw + y*w + x
						lse := pixelSoftmax(p, in[0], off, hw)
						l := int(in[1][px])
						acc += float64(in[2][px]) * (lse - float64(in[0][off+l*hw]))
					}
					partial[u] = acc
				}
			})
			var total float64
			for _, v := range partial {
				total += v
			}
			out[0] = float32(total / float64(n*hw))
			return nil
		},
		wrt: []bool{true, false, false},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{apply(kernel{
			name: "WeightedSoftmaxCE2dBackward",
			in:   []int{4, 3, 3, 0},
			out:  4,
			shape: func(s []tensor.Shape) (tensor.Shape, error) {
				return s[0].Clone(), nil
			},
			do: func(dz []float32, in [][]float32, s []tensor.Shape) error {
				zs := s[0]
				n, kk, h, w := zs[0], zs[1], zs[2], zs[3]
				if err := checkLabels(name, in[1], kk, zs); err != nil {
					return err
				}
				hw := h * w
				g := float64(in[3][0]) / float64(n*hw)
				simd.Parallel(n*h, 8*kk*w, func(lo, hi int) {
					p := make([]float64, kk)
					for u := lo; u < hi; u++ {
						i, y := u/h, u%h
						for x := 0; x < w; x++ {
							px := i*hw + y*w + x
							off := i*kk*hw + y*w + x
							pixelSoftmax(p, in[0], off, hw)
							l := int(in[1][px])
							c := g * float64(in[2][px])
							for j, pj := range p {
								if j == l {
									pj--
								}
								dz[off+j*hw] = float32(c * pj)
							}
						}
					}
				})
				return nil
			},
		}, ins[0], ins[1], ins[2], grad), nil, nil}, nil
	}
	return apply(k, z, labels, weights)
}

// diceScratch holds the per-class sums of a soft Dice loss over the whole
// batch: Σ p_k·y_k, Σ p_k and Σ y_k (3·K values), and the per-row partial
// sums they are reduced from in row order, so that the result does not
// depend on the number of cores.
type diceScratch struct {
	k       int
	sums    []float64
	partial []float64
}

// compute fills the sums for logits z (shape zs) and labels.
func (d *diceScratch) compute(z, labels []float32, zs tensor.Shape) {
	n, kk, h, w := zs[0], zs[1], zs[2], zs[3]
	hw := h * w
	d.k = kk
	if len(d.sums) != 3*kk {
		d.sums = make([]float64, 3*kk)
	}
	if len(d.partial) != n*h*3*kk {
		d.partial = make([]float64, n*h*3*kk)
	}
	simd.Parallel(n*h, 8*kk*w, func(lo, hi int) {
		p := make([]float64, kk)
		for u := lo; u < hi; u++ {
			i, y := u/h, u%h
			acc := d.partial[u*3*kk : (u+1)*3*kk]
			clear(acc)
			for x := 0; x < w; x++ {
				pixelSoftmax(p, z, i*kk*hw+y*w+x, hw)
				l := int(labels[i*hw+y*w+x])
				acc[l] += p[l]
				acc[2*kk+l]++
				for j, pj := range p {
					acc[kk+j] += pj
				}
			}
		}
	})
	clear(d.sums)
	for u := 0; u < n*h; u++ {
		for j, v := range d.partial[u*3*kk : (u+1)*3*kk] {
			d.sums[j] += v
		}
	}
}

// dice returns class j's dice coefficient and its denominator
// Σ p_j + Σ y_j + eps.
func (d *diceScratch) dice(j int, eps float64) (dice, den float64) {
	den = d.sums[d.k+j] + d.sums[2*d.k+j] + eps
	return (2*d.sums[j] + eps) / den, den
}

// SoftDiceLoss returns the soft Dice loss of Milletari, Navab and Ahmadi
// ("V-Net: Fully Convolutional Neural Networks for Volumetric Medical Image
// Segmentation", 3DV 2016) over K classes, a float32 scalar: with p =
// softmax(z) over the classes of logits z (N,K,H,W) and y the one-hot
// labels (N,H,W holding class ids 0..K−1),
//
//	dice_k = (2·Σ p_k·y_k + eps) / (Σ p_k + Σ y_k + eps)
//	loss   = 1 − (1/K) Σ_k dice_k
//
// where the sums run over every pixel of the whole batch (eps > 0 keeps a
// class absent from both prediction and labels at dice 1, and smooths the
// gradient). Sums are computed in float64. A label that is not a class id
// in [0, K) is an error at run time naming it and K. It is differentiable
// with respect to z.
func SoftDiceLoss(z, labels *G.Node, eps float64) *G.Node {
	const name = "soft dice"
	var fwd diceScratch
	k := kernel{
		name: fmt.Sprintf("SoftDiceLoss(eps=%g)", eps),
		in:   []int{4, 3},
		out:  0,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if err := checkPixelShapes(name, s[0], s[1]); err != nil {
				return nil, err
			}
			return tensor.ScalarShape(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			zs := s[0]
			kk := zs[1]
			if err := checkLabels(name, in[1], kk, zs); err != nil {
				return err
			}
			fwd.compute(in[0], in[1], zs)
			var total float64
			for j := 0; j < kk; j++ {
				d, _ := fwd.dice(j, eps)
				total += d
			}
			out[0] = float32(1 - total/float64(kk))
			return nil
		},
		wrt: []bool{true, false},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		var bwd diceScratch
		return G.Nodes{apply(kernel{
			name: fmt.Sprintf("SoftDiceLossBackward(eps=%g)", eps),
			in:   []int{4, 3, 0},
			out:  4,
			shape: func(s []tensor.Shape) (tensor.Shape, error) {
				return s[0].Clone(), nil
			},
			// d loss/d p_k = −(2·y_k − dice_k)/(K·den_k) at each pixel, then
			// through the softmax: dz_k = p_k·(a_k − Σ_j p_j·a_j).
			do: func(dz []float32, in [][]float32, s []tensor.Shape) error {
				zs := s[0]
				n, kk, h, w := zs[0], zs[1], zs[2], zs[3]
				if err := checkLabels(name, in[1], kk, zs); err != nil {
					return err
				}
				bwd.compute(in[0], in[1], zs)
				g := float64(in[2][0])
				dk, inv := make([]float64, kk), make([]float64, kk)
				for j := range dk {
					d, den := bwd.dice(j, eps)
					dk[j], inv[j] = d, -g/(float64(kk)*den)
				}
				hw := h * w
				simd.Parallel(n*h, 8*kk*w, func(lo, hi int) {
					p, a := make([]float64, kk), make([]float64, kk)
					for u := lo; u < hi; u++ {
						i, y := u/h, u%h
						for x := 0; x < w; x++ {
							off := i*kk*hw + y*w + x
							pixelSoftmax(p, in[0], off, hw)
							l := int(in[1][i*hw+y*w+x])
							var dot float64
							for j := range a {
								yj := 0.0
								if j == l {
									yj = 2
								}
								a[j] = inv[j] * (yj - dk[j])
								dot += p[j] * a[j]
							}
							for j, pj := range p {
								dz[off+j*hw] = float32(pj * (a[j] - dot))
							}
						}
					}
				})
				return nil
			},
		}, ins[0], ins[1], grad), nil}, nil
	}
	return apply(k, z, labels)
}
