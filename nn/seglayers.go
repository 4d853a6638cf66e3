package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// DeclareConvTranspose2x adds the parameters of a 2×2, stride-2 transposed
// convolution from in to out channels (the U-Net's up-convolution,
// Ronneberger et al., MICCAI 2015): weight (in,out,2,2) in PyTorch's layout
// and bias (out), both U(±1/√(4·out)) as torch.nn.ConvTranspose2d
// initialises them: kaiming_uniform_(a=√5) bounds the weight by
// 1/√fan_in, and PyTorch computes fan_in from the weight's second axis
// times the kernel's area, which for a transposed convolution is the
// number of output channels (not input channels) times 4; the bias uses the
// same bound.
func DeclareConvTranspose2x(p *Params, seed uint64, prefix string, in, out int) {
	b := 1 / math.Sqrt(float64(out*2*2))
	p.Declare(prefix+".weight", seed, Uniform(b), in, out, 2, 2)
	p.Declare(prefix+".bias", seed, Uniform(b), out)
}

// ConvTranspose2x applies the transposed convolution declared under prefix
// (DeclareConvTranspose2x) to x (N,in,H,W), giving (N,out,2H,2W).
func (g *Graph) ConvTranspose2x(prefix string, x *G.Node) *G.Node {
	return ConvTranspose2x(x, g.Param(prefix+".weight"), g.Param(prefix+".bias"))
}

// DeclareBatchNorm adds a BatchNorm2d over c channels (Ioffe & Szegedy,
// ICML 2015) under PyTorch's state_dict names: the affine parameters
// "<prefix>.weight" (ones) and "<prefix>.bias" (zeros), and the running
// statistics "<prefix>.running_mean" (zeros) and "<prefix>.running_var"
// (ones), as torch.nn.BatchNorm2d initialises them.
//
// The running statistics go into buffers (p itself when nil) so that
// checkpoints save and load them with the parameters, but they are
// buffers, not parameters: Graph.BatchNorm never makes them graph
// parameter nodes, so they get no gradient and optimisers never touch
// them. In a store of their own (a frozen store of the graph) they stay
// out of Params.Count and of optimisers' moments; in p, an EMA of the
// whole store averages them too, as timm's model EMA does.
// PyTorch's third buffer, num_batches_tracked, is an int64 the float32
// store cannot hold and only matters for momentum=None, which is not
// supported: it is left out, so loading a PyTorch checkpoint needs its
// "<prefix>.num_batches_tracked" keys dropped (weightio.LoadParams' drop
// list).
func DeclareBatchNorm(p, buffers *Params, seed uint64, prefix string, c int) {
	if buffers == nil {
		buffers = p
	}
	p.Declare(prefix+".weight", seed, Const(1), c)
	p.Declare(prefix+".bias", seed, Const(0), c)
	buffers.Declare(prefix+".running_mean", seed, Const(0), c)
	buffers.Declare(prefix+".running_var", seed, Const(1), c)
}

// BatchNorm applies the BatchNorm2d declared under prefix (DeclareBatchNorm)
// to x (N,C,H,W) with PyTorch's defaults, momentum 0.1 and eps 1e-5: in
// training mode (train) it normalises with the batch's statistics and each
// run updates the running statistics in the store the layer was declared
// in (the trainable store or a frozen one) in place; otherwise it
// normalises with the running statistics. See BatchNorm2d.
func (g *Graph) BatchNorm(prefix string, x *G.Node, train bool) *G.Node {
	st := &BatchNormState{
		RunningMean: g.buffer(prefix + ".running_mean"),
		RunningVar:  g.buffer(prefix + ".running_var"),
		Momentum:    0.1,
		Eps:         1e-5,
		Train:       train,
	}
	return BatchNorm2d(x, g.Param(prefix+".weight"), g.Param(prefix+".bias"), st)
}

// buffer returns the data of a named tensor of the graph's stores (the
// trainable one or a frozen one) without making it a graph node: a
// layer's state that is not differentiated, such as batch norm's running
// statistics. It panics if no store, or more than one, has the name.
func (g *Graph) buffer(name string) []float32 {
	var data []float32
	found := 0
	if g.params != nil && g.params.Get(name) != nil {
		data = g.params.Data(name)
		found++
	}
	for _, f := range g.frozen {
		if f.Get(name) != nil {
			data = f.Data(name)
			found++
		}
	}
	switch found {
	case 0:
		panic(fmt.Sprintf("nn: no buffer %q", name))
	case 1:
		return data
	}
	panic(fmt.Sprintf("nn: buffer %q is in two stores of one graph", name))
}
