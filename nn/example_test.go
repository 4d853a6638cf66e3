package nn_test

import (
	"fmt"
	"log"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
)

// Train a 1×1 convolution to double its input: declare seeded parameters,
// build a graph with a loss, take its symbolic gradient, compile once and
// run Adam steps.
func ExampleGraph() {
	params := nn.NewParams()
	nn.DeclareConv(params, 1, "conv", 1, 1, 1)
	g := nn.NewGraph(params)
	var x, y, loss *G.Node
	if err := nn.Build(func() error {
		x = g.Input("x", 4, 1, 1, 1)
		y = g.Input("y", 4, 1, 1, 1)
		loss = nn.MSE(g.Conv("conv", x, nn.Same(1, 1, 0)), y)
		return nil
	}); err != nil {
		log.Fatal(err)
	}
	names, grads, err := g.Grad(loss)
	if err != nil {
		log.Fatal(err)
	}
	nn.Let(x, tensor.New(tensor.WithShape(4, 1, 1, 1), tensor.WithBacking([]float32{1, 2, 3, 4})))
	nn.Let(y, tensor.New(tensor.WithShape(4, 1, 1, 1), tensor.WithBacking([]float32{2, 4, 6, 8})))
	m, err := g.Compile()
	if err != nil {
		log.Fatal(err)
	}
	opt := nn.NewAdam(0.05)
	for step := 0; step < 2000; step++ {
		if err := m.Run(); err != nil {
			log.Fatal(err)
		}
		gs := []*tensor.Dense{nn.Value(grads[0]), nn.Value(grads[1])}
		if err := opt.Update(params, names, gs); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("weight %.2f bias %.2f\n", params.Data("conv.weight")[0], params.Data("conv.bias")[0])
	// Output:
	// weight 2.00 bias 0.00
}
