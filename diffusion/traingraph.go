package diffusion

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
)

// TrainGraph is a U-Net's training graph compiled for one batch shape: the
// model's prediction for noised samples, a per-sample weighted MSE against a
// target, and the symbolic gradient of that loss with respect to every
// parameter.
type TrainGraph struct {
	model                             *unet.Model
	shape                             [3]int
	mc                                *nn.Machine
	x, tproj, onehot, target, weights *G.Node
	loss                              *G.Node
	names                             []string
	grads                             G.Nodes
	gradVals                          []*tensor.Dense
	ones                              *tensor.Dense
}

// NewTrainGraph builds and compiles the training graph of m for batches of
// n samples of h×w.
func NewTrainGraph(m *unet.Model, n, h, w int) (*TrainGraph, error) {
	c := m.Config
	g := nn.NewGraph(m.Params)
	tg := &TrainGraph{model: m, shape: [3]int{n, h, w}}
	err := nn.Build(func() error {
		tg.x = g.Input("x", n, c.InChannels, h, w)
		tg.tproj = g.Input("tproj", n, c.BlockOutChannels[0])
		if k := c.NumClasses(); k > 0 {
			tg.onehot = g.Input("onehot", n, k)
		}
		out := m.Graph(g, tg.x, tg.tproj, tg.onehot)
		tg.target = g.Input("target", out.Shape()...)
		tg.weights = g.Input("weights", n)
		tg.loss = nn.WeightedMSE(out, tg.target, tg.weights)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if tg.names, tg.grads, err = g.Grad(tg.loss); err != nil {
		return nil, err
	}
	if tg.mc, err = g.CompilePlanned(append(G.Nodes{tg.loss}, tg.grads...)...); err != nil {
		return nil, err
	}
	tg.ones = tensor.New(tensor.WithShape(n), tensor.WithBacking(ones(n)))
	return tg, nil
}

func ones(n int) []float32 {
	o := make([]float32, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

// Run computes the loss and the gradients for one batch: model inputs x
// (noised samples), timesteps t, class labels (nil for unconditional
// models), the regression target and per-sample loss weights (nil for 1).
func (tg *TrainGraph) Run(x *tensor.Dense, t []float64, labels []int64, target *tensor.Dense, weights []float32) (float64, error) {
	m := tg.model
	if len(t) != tg.shape[0] {
		return 0, fmt.Errorf("train graph: %d timesteps for a batch of %d", len(t), tg.shape[0])
	}
	if err := nn.Let(tg.x, x); err != nil {
		return 0, err
	}
	if err := nn.Let(tg.tproj, m.TimeProj(t)); err != nil {
		return 0, err
	}
	if tg.onehot != nil {
		oh, err := m.OneHot(labels)
		if err != nil {
			return 0, err
		}
		if err := nn.Let(tg.onehot, oh); err != nil {
			return 0, err
		}
	}
	if err := nn.Let(tg.target, target); err != nil {
		return 0, err
	}
	w := tg.ones
	if weights != nil {
		w = tensor.New(tensor.WithShape(len(weights)), tensor.WithBacking(weights))
	}
	if err := nn.Let(tg.weights, w); err != nil {
		return 0, err
	}
	if err := tg.mc.Run(); err != nil {
		return 0, err
	}
	return nn.Scalar(tg.loss), nil
}

// Gradients returns the parameter names and their gradients from the last
// Run (valid until the next Run).
func (tg *TrainGraph) Gradients() ([]string, []*tensor.Dense) {
	if tg.gradVals == nil {
		tg.gradVals = make([]*tensor.Dense, len(tg.grads))
	}
	for i, g := range tg.grads {
		tg.gradVals[i] = nn.Value(g)
	}
	return tg.names, tg.gradVals
}
