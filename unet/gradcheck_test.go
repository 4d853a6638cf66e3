package unet

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/nn/nntest"
)

// tinyConfig is a class-conditional two-level U-Net with attention at the
// low resolution, small enough for finite differences.
func tinyConfig() Config {
	c := DefaultConfig()
	c.InChannels, c.OutChannels = 1, 1
	c.BlockOutChannels = []int{4, 8}
	c.DownBlockTypes = []string{"DownBlock2D", "AttnDownBlock2D"}
	c.UpBlockTypes = []string{"AttnUpBlock2D", "UpBlock2D"}
	c.LayersPerBlock = 1
	c.NormNumGroups = ptr(2)
	c.AttentionHeadDim = ptr(4)
	c.NumClassEmbeds = ptr(3)
	c.TimeEmbeddingDim = ptr(8)
	return c
}

// TestUNetGradientFiniteDifferences checks the gradient of a whole U-Net
// (every parameter, including norms and the class embedding) against finite
// differences.
func TestUNetGradientFiniteDifferences(t *testing.T) {
	m, err := New(tinyConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// Non-trivial norm parameters.
	perturbParams(m, rng)
	g := nn.NewGraph(m.Params)
	var out *G.Node
	err = nn.Build(func() error {
		x := g.Input("x", 2, 1, 4, 4)
		tp := g.Input("tproj", 2, 4)
		oh := g.Input("onehot", 2, 3)
		xs := make([]float32, 32)
		for i := range xs {
			xs[i] = float32(rng.NormFloat64())
		}
		ohv, _ := m.OneHot([]int64{2, 0})
		for _, b := range []struct {
			n *G.Node
			t *tensor.Dense
		}{{x, tensor.New(tensor.WithShape(2, 1, 4, 4), tensor.WithBacking(xs))}, {tp, m.TimeProj([]float64{17, 630})}, {oh, ohv}} {
			if err := nn.Let(b.n, b.t); err != nil {
				return err
			}
		}
		out = m.Graph(g, x, tp, oh, nil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nntest.CheckGraph(t, g, out, nntest.Options{Seed: 5, Probes: 3})
}
