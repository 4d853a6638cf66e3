package segment_test

import (
	"fmt"
	"log"

	"github.com/clockwork-go/clockwork/scenes"
	"github.com/clockwork-go/clockwork/segment"
)

// A segmentation U-Net with the paper's valid padding segments a held-out
// 64×64 scene by overlap-tiling, and its masks are measured against the
// scene's exact ones (an untrained network here: the numbers of a trained
// one are in docs/segmentation.md).
func Example() {
	cfg := segment.Config{InChannels: 1, Classes: scenes.Classes, Depth: 2, Width: 4, Padding: "valid", BatchNorm: true, Variant: segment.Attention}
	m, err := segment.New(cfg, 0)
	if err != nil {
		log.Fatal(err)
	}
	in := cfg.InputFor(64)
	out, _ := cfg.OutputSize(in)
	fmt.Printf("a %d-pixel input gives a %d-pixel output\n", in, out)
	if _, err := cfg.OutputSize(102); err != nil {
		fmt.Println(err)
	}

	set, err := scenes.Open("test", 2)
	if err != nil {
		log.Fatal(err)
	}
	x := make([]float32, 2*64*64)
	set.Batch([]int{0, 1}, x, nil)
	z, err := segment.NewPredictor(m).Predict(x, 2, 64, 64, 32) // tiles of 32 output pixels
	if err != nil {
		log.Fatal(err)
	}
	masks := segment.Argmax(z, 2, cfg.Classes, 64*64)
	r, err := segment.Evaluate(set, masks, 0, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d scenes, %d touching pair(s), the true masks separate %.0f%% of them\n", r.Scenes, r.Pairs, 100*r.TruthSeparated)
	// Output:
	// a 104-pixel input gives a 64-pixel output
	// segment: an input of 102 pixels does not fit depth 2 under valid padding: the smallest size that works is 44, the next at least 102 is 104
	// 2 scenes, 1 touching pair(s), the true masks separate 100% of them
}
