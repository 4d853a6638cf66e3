package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// BatchNormState holds what BatchNorm2d needs besides its input and affine
// parameters: the running statistics, the momentum and epsilon, and the
// mode. It is read at every run of the graph, so one compiled graph can be
// switched between training and evaluation by setting Train between runs
// (the gradient follows the mode of the run).
//
// The running statistics are updated in place by the forward pass of every
// training-mode run, so a graph holding a BatchNorm2d in training mode must
// not run concurrently with another graph over the same slices.
type BatchNormState struct {
	// RunningMean and RunningVar (C values each) are the running estimates
	// of each channel's mean and unbiased variance, as PyTorch's buffers
	// running_mean and running_var. Graph.BatchNorm makes them alias the
	// parameter store's tensors, so that checkpoints save them.
	RunningMean, RunningVar []float32
	// Momentum is the weight of the batch statistics in the running
	// update, running = (1−Momentum)·running + Momentum·batch (PyTorch's
	// momentum, 0.1 by default; PyTorch's momentum=None, a cumulative
	// average, is not supported). 0 leaves the running statistics as they
	// are.
	Momentum float64
	// Eps is added to the variance before its square root (1e-5 in PyTorch).
	Eps float64
	// Train selects training mode: normalise with the batch's statistics
	// and update the running ones. Otherwise the running statistics
	// normalise and nothing is updated.
	Train bool
}

// BatchNorm2d returns torch.nn.BatchNorm2d applied to x (N,C,H,W) with
// weight gamma (C) and bias beta (C) (Ioffe & Szegedy, "Batch
// Normalization: Accelerating Deep Network Training by Reducing Internal
// Covariate Shift", ICML 2015):
//
//	y = (x − mean_c)/√(var_c + Eps)·gamma_c + beta_c
//
// where, in training mode (st.Train), mean_c and var_c are the mean and
// biased variance of channel c over the batch's N·H·W values, computed in
// float64, and the forward pass also updates st.RunningMean and
// st.RunningVar in place with st.Momentum and the batch's unbiased
// variance, as PyTorch does; training with a single value per channel is
// an error, as in PyTorch. In evaluation mode mean_c and var_c are the
// running statistics, which are left unchanged.
//
// It is differentiable with respect to x, gamma and beta; in training mode
// the gradient with respect to x runs through the batch statistics. The
// running statistics are never differentiated.
func BatchNorm2d(x, gamma, beta *G.Node, st *BatchNormState) *G.Node {
	if st == nil {
		panic(fmt.Errorf("nn: batchnorm: nil state"))
	}
	// The state's address is part of the name, so that gorgonia never
	// merges two batch norms (each updates its own running statistics).
	name := fmt.Sprintf("BatchNorm2d(%p)", st)
	k := kernel{
		name: name,
		in:   []int{4, 1, 1},
		out:  4,
		shape: func(s []tensor.Shape) (tensor.Shape, error) {
			if err := checkBatchNorm(s[0], s[1], s[2], st); err != nil {
				return nil, err
			}
			return s[0].Clone(), nil
		},
		do: func(out []float32, in [][]float32, s []tensor.Shape) error {
			return batchNormForward(out, in[0], in[1], in[2], s[0], st)
		},
	}
	k.diff = func(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		xs := ins[0].Shape().Clone()
		c := xs[1]
		n := xs.TotalSize()
		packed := apply(kernel{
			name: "BatchNorm2dBackward" + name[len("BatchNorm2d"):],
			in:   []int{4, 1, 4},
			out:  1,
			shape: func(s []tensor.Shape) (tensor.Shape, error) {
				return tensor.Shape{s[0].TotalSize() + 2*c}, nil
			},
			do: func(out []float32, in [][]float32, s []tensor.Shape) error {
				return batchNormBackward(out[:n], out[n:n+c], out[n+c:], in[0], in[1], in[2], s[0], st)
			},
		}, ins[0], ins[1], grad)
		return G.Nodes{
			unpack(packed, 0, xs),
			unpack(packed, n, tensor.Shape{c}),
			unpack(packed, n+c, tensor.Shape{c}),
		}, nil
	}
	return apply(k, x, gamma, beta)
}

func checkBatchNorm(xs, gs, bs tensor.Shape, st *BatchNormState) error {
	if len(xs) != 4 {
		return fmt.Errorf("batchnorm: input %v is not 4-D", xs)
	}
	c := xs[1]
	if len(gs) != 1 || gs[0] != c || len(bs) != 1 || bs[0] != c {
		return fmt.Errorf("batchnorm: weight %v and bias %v must be (%d) for input %v", gs, bs, c, xs)
	}
	if len(st.RunningMean) != c || len(st.RunningVar) != c {
		return fmt.Errorf("batchnorm: running mean (%d values) and variance (%d values) must have %d, the channels of input %v",
			len(st.RunningMean), len(st.RunningVar), c, xs)
	}
	return nil
}

// batchStats returns channel ci's mean and biased variance over the n
// planes of hw values of x (c channels), in float64: two passes, the
// second about the first estimate of the mean, as simd.MeanRstd.
func batchStats(x []float32, n, c, hw, ci int) (mean, variance float64) {
	m := float64(n * hw)
	var s float64
	for i := 0; i < n; i++ {
		s += sum32(x[(i*c+ci)*hw : (i*c+ci+1)*hw])
	}
	m0 := s / m
	var d, q float64
	for i := 0; i < n; i++ {
		di, qi := simd.SumDev(x[(i*c+ci)*hw:(i*c+ci+1)*hw], float32(m0))
		d += di
		q += qi
	}
	d /= m
	return m0 + d, math.Max(q/m-d*d, 0)
}

// channelStats returns the mean and 1/√(var+eps) channel ci is normalised
// with in the current mode of st, and the batch's variance (training mode
// only).
func channelStats(x []float32, s tensor.Shape, st *BatchNormState, ci int) (mean, rstd, variance float64) {
	if st.Train {
		mean, variance = batchStats(x, s[0], s[1], s[2]*s[3], ci)
	} else {
		mean, variance = float64(st.RunningMean[ci]), float64(st.RunningVar[ci])
	}
	return mean, 1 / math.Sqrt(variance+st.Eps), variance
}

func batchNormForward(y, x, gamma, beta []float32, s tensor.Shape, st *BatchNormState) error {
	n, c, hw := s[0], s[1], s[2]*s[3]
	m := n * hw
	if st.Train && m <= 1 {
		return fmt.Errorf("batchnorm: training needs more than 1 value per channel, input %v has %d", s, m)
	}
	means, vars := make([]float64, c), make([]float64, c)
	simd.Parallel(c, 2*m, func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			mean, rstd, variance := channelStats(x, s, st, ci)
			means[ci], vars[ci] = mean, variance
			a := float32(rstd) * gamma[ci]
			b := beta[ci] - float32(mean)*a
			for i := 0; i < n; i++ {
				off := (i*c + ci) * hw
				simd.Affine(y[off:off+hw], x[off:off+hw], a, b)
			}
		}
	})
	if st.Train {
		mom := st.Momentum
		unbias := float64(m) / float64(m-1)
		for ci := 0; ci < c; ci++ {
			st.RunningMean[ci] = float32((1-mom)*float64(st.RunningMean[ci]) + mom*means[ci])
			st.RunningVar[ci] = float32((1-mom)*float64(st.RunningVar[ci]) + mom*vars[ci]*unbias)
		}
	}
	return nil
}

// batchNormBackward writes the gradients with respect to x, gamma and beta
// given the output gradient gy. With x̂ = (x−mean)·rstd:
//
//	dgamma = Σ gy·x̂, dbeta = Σ gy,
//	dx = gamma·rstd·(gy − dbeta/M − x̂·dgamma/M)   (training mode, M = N·H·W)
//	dx = gamma·rstd·gy                             (evaluation mode)
func batchNormBackward(dx, dgamma, dbeta, x, gamma, gy []float32, s tensor.Shape, st *BatchNormState) error {
	n, c, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	if st.Train && n*hw <= 1 {
		return fmt.Errorf("batchnorm backward: training needs more than 1 value per channel, input %v has %d", s, n*hw)
	}
	simd.Parallel(c, 4*n*hw, func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			mean, rstd, _ := channelStats(x, s, st, ci)
			// First pass: dx = gy, and the sums Σ gy·x̂ and Σ gy.
			var sdx, sd float64
			for i := 0; i < n; i++ {
				off := (i*c + ci) * hw
				a, b := simd.GNBackward(dx[off:off+hw], gy[off:off+hw], x[off:off+hw], float32(mean), float32(rstd), 1, 0, false)
				sdx += a
				sd += b
			}
			dgamma[ci], dbeta[ci] = float32(sdx), float32(sd)
			g := float64(gamma[ci])
			if !st.Train {
				for i := 0; i < n; i++ {
					off := (i*c + ci) * hw
					simd.Affine(dx[off:off+hw], dx[off:off+hw], float32(g*rstd), 0)
				}
				continue
			}
			// dx = a·gy + b·x + c0, affine in gy and x.
			meanD, meanDX := g*sd/m, g*sdx/m
			a := float32(rstd * g)
			b := float32(-rstd * rstd * meanDX)
			c0 := float32(rstd * (rstd*meanDX*mean - meanD))
			for i := 0; i < n; i++ {
				off := (i*c + ci) * hw
				simd.AXPBYC(dx[off:off+hw], dx[off:off+hw], x[off:off+hw], a, b, c0)
			}
		}
	})
	return nil
}
