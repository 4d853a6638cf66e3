package unet_test

import (
	"fmt"
	"log"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/unet"
)

// Load a model directory and run it on a batch, reading one tap on the way.
func ExampleLoad() {
	m, err := unet.Load("testdata/classcond")
	if err != nil {
		log.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(2, 1, 16, 16), tensor.Of(tensor.Float32))
	var mid tensor.Shape
	out, err := m.Forward(x, []float64{999, 10}, unet.Cond{Labels: []int64{3, 7}}, func(tap string, h *tensor.Dense) (*tensor.Dense, error) {
		if tap == unet.TapMid {
			mid = h.Shape().Clone()
		}
		return nil, nil // keep the feature as it is
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("taps:", m.Taps())
	fmt.Println("mid block:", mid, "output:", out.Shape())
	// Output:
	// taps: [conv_in down_blocks.0 down_blocks.1 down_blocks.2 mid_block up_blocks.0 up_blocks.1 up_blocks.2]
	// mid block: (2, 16, 4, 4) output: (2, 1, 16, 16)
}

// Run the high-resolution shell and the low-resolution core apart, cache the
// core's output r_out and reuse it, as Clockwork does on alternate steps.
func ExampleModel_ShellIn() {
	m, err := unet.Load("testdata/attn")
	if err != nil {
		log.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(1, 3, 8, 8), tensor.Of(tensor.Float32))
	sh, err := m.ShellIn(x, []float64{500}, unet.Cond{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	rOut, err := m.Core(sh, nil) // full step: run the core, keep r_out
	if err != nil {
		log.Fatal(err)
	}
	out, err := m.ShellOut(sh, rOut, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("r_in:", sh.RIn.Shape(), "r_out:", rOut.Shape(), "output:", out.Shape())
	// Output:
	// r_in: (1, 8, 4, 4) r_out: (1, 16, 8, 8) output: (1, 3, 8, 8)
}

// Build a fresh model from a config and save it as a diffusers-style
// directory.
func ExampleNew() {
	c := unet.DefaultConfig()
	c.InChannels, c.OutChannels = 1, 1
	c.BlockOutChannels = []int{32, 64}
	c.DownBlockTypes = []string{"DownBlock2D", "AttnDownBlock2D"}
	c.UpBlockTypes = []string{"AttnUpBlock2D", "UpBlock2D"}
	m, err := unet.New(c, 42)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Params.Len(), "tensors,", m.Params.Count(), "parameters")
	// Output:
	// 208 tensors, 1001729 parameters
}
