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
	model *unet.Model
	n     int
	f     *nn.Func
	ones  *tensor.Dense
	in    []*tensor.Dense
}

// NewTrainGraph builds and compiles the training graph of m for batches of
// n samples of h×w.
func NewTrainGraph(m *unet.Model, n, h, w int) (*TrainGraph, error) {
	c := m.Config
	shapes := [][]int{{n, c.InChannels, h, w}, {n, c.BlockOutChannels[0]}}
	k := c.NumClasses()
	if k > 0 {
		shapes = append(shapes, []int{n, k})
	}
	shapes = append(shapes, []int{n, c.OutChannels, h, w}, []int{n})
	f, err := nn.NewFunc(nn.FuncDef{Params: m.Params, Inputs: shapes, Grad: true,
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			var onehot *G.Node
			if k > 0 {
				onehot = in[2]
			}
			out := m.Graph(g, in[0], in[1], onehot)
			return []*G.Node{nn.WeightedMSE(out, in[len(in)-2], in[len(in)-1])}, nil
		}})
	if err != nil {
		return nil, err
	}
	return &TrainGraph{model: m, n: n, f: f, ones: tensor.New(tensor.WithShape(n), tensor.WithBacking(ones(n)))}, nil
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
	if len(t) != tg.n {
		return 0, fmt.Errorf("train graph: %d timesteps for a batch of %d", len(t), tg.n)
	}
	in := append(tg.in[:0], x, m.TimeProj(t))
	if m.Config.NumClasses() > 0 {
		oh, err := m.OneHot(labels)
		if err != nil {
			return 0, err
		}
		in = append(in, oh)
	}
	w := tg.ones
	if weights != nil {
		w = tensor.New(tensor.WithShape(len(weights)), tensor.WithBacking(weights))
	}
	in = append(in, target, w)
	tg.in = in
	if _, err := tg.f.Call(in...); err != nil {
		return 0, err
	}
	return tg.f.Scalar(0), nil
}

// Gradients returns the parameter names and their gradients from the last
// Run (valid until the next Run).
func (tg *TrainGraph) Gradients() ([]string, []*tensor.Dense) { return tg.f.Gradients() }
