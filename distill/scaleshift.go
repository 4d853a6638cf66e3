package distill

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
)

// scaleShiftKind scales and shifts the previous step's r_out per channel,
// with a scale and a shift of its own per sampling step: the light trained
// variant of Block Caching (Wimbauer et al., "Cache Me if You Can:
// Accelerating Diffusion Models through Block Caching", CVPR 2024).
var scaleShiftKind = Kind{Name: "scaleshift", UsesPrev: true, Trainable: true, PerStep: true,
	New: func(b *AdaptorBase, seed uint64) (Adaptor, error) {
		a := &ScaleShift{AdaptorBase: b, params: nn.NewParams()}
		a.params.Declare("adaptor.scale", seed, nn.Const(1), b.Cfg.Steps, b.ROut[0])
		a.params.Declare("adaptor.shift", seed, nn.Const(0), b.Cfg.Steps, b.ROut[0])
		return a, nil
	}}

// ScaleShift is the scale-shift adaptor:
// r_out_t = scale_step ⊙ r_out_{t+1} + shift_step, per channel.
type ScaleShift struct {
	*AdaptorBase
	GraphRunner
	params *nn.Params
}

// Params implements Trainable.
func (a *ScaleShift) Params() *nn.Params { return a.params }

// Shapes implements Trainable: r_in, r_out_{t+1}, the one-hot step.
func (a *ScaleShift) Shapes(n int) [][]int {
	return [][]int{{n, a.RIn[0], a.RIn[1], a.RIn[2]}, {n, a.ROut[0], a.ROut[1], a.ROut[2]}, {n, a.Cfg.Steps}}
}

// Tensors implements Trainable.
func (a *ScaleShift) Tensors(in Inputs) ([]*tensor.Dense, error) {
	if err := checkPrev(a.AdaptorBase, in); err != nil {
		return nil, err
	}
	step, err := oneHotSteps(a.AdaptorBase, in)
	if err != nil {
		return nil, err
	}
	return []*tensor.Dense{in.RIn, in.ROutPrev, step}, nil
}

// Graph implements Trainable.
func (a *ScaleShift) Graph(g *nn.Graph, in []*G.Node) (*G.Node, error) {
	prev, step := in[1], in[2]
	scale := nn.MatMul(step, g.Param("adaptor.scale"), false, false)
	shift := nn.MatMul(step, g.Param("adaptor.shift"), false, false)
	return nn.AddChannel(nn.ScaleChannel(prev, scale), shift), nil
}

// Apply implements Adaptor.
func (a *ScaleShift) Apply(in Inputs) (*tensor.Dense, error) { return a.Run(a, in) }

// FLOPs implements Adaptor: one multiply and one add per element.
func (a *ScaleShift) FLOPs() int64 {
	var b unet.CostBuilder
	n := a.ROut[0] * a.ROut[1] * a.ROut[2]
	b.Sum("adaptor.scale", n)
	b.Sum("adaptor.shift", n)
	_, f := b.Cost.Total()
	return f
}

// checkPrev reports a missing or mis-sized previous r_out.
func checkPrev(b *AdaptorBase, in Inputs) error {
	if in.ROutPrev == nil {
		return fmt.Errorf("%s adaptor at step %d: no previous step's r_out", b.Cfg.Kind, in.Step+1)
	}
	if n := in.RIn.Shape()[0]; in.ROutPrev.Shape()[0] != n {
		return fmt.Errorf("%s adaptor: r_out of the previous step has %d rows, r_in %d", b.Cfg.Kind, in.ROutPrev.Shape()[0], n)
	}
	return nil
}

// oneHotSteps returns the rows' steps as one-hot vectors of Cfg.Steps.
func oneHotSteps(b *AdaptorBase, in Inputs) (*tensor.Dense, error) {
	n, steps := in.RIn.Shape()[0], b.Cfg.Steps
	d := make([]float32, n*steps)
	for i := 0; i < n; i++ {
		st := in.Step
		if in.RowSteps != nil {
			st = in.RowSteps[i]
		}
		if st < 0 || st >= steps {
			return nil, fmt.Errorf("%s adaptor for %d steps run at step %d", b.Cfg.Kind, steps, st+1)
		}
		d[i*steps+st] = 1
	}
	return tensor.New(tensor.WithShape(n, steps), tensor.WithBacking(d)), nil
}
