package captions_test

import (
	"fmt"
	"log"

	"github.com/clockwork-go/clockwork/captions"
)

// Captioned digits from MNIST's training split: each caption names the
// digit and some of the attributes the image was drawn with.
func ExampleOpen() {
	set, err := captions.Open("train", 4, 1)
	if err != nil {
		log.Fatal(err)
	}
	d := set.Images
	fmt.Printf("%s: %d images of %d×%d×%d\n", d.Name, d.Len(), d.C, d.H, d.W)
	for i, c := range set.Captions {
		fmt.Printf("%q  (drawn as %q)\n", c, set.Attrs[i])
	}
	// Output:
	// captions-train: 4 images of 1×32×32
	// "a large 6 in the middle row"  (drawn as "a thin large six in the middle right")
	// "a normal large 6 in the top right"  (drawn as "a normal large six in the top right")
	// "a 0 in the middle row"  (drawn as "a thick small zero in the middle left")
	// "a thin small 1 in the middle row"  (drawn as "a thin small one in the middle right")
}

// Parse reads what a caption asks for; what it leaves out is not
// constrained, and String gives the canonical caption back.
func ExampleParse() {
	p, err := captions.Parse("a thick 7 at the top")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Digit, p.Stroke, p.Size, p.H, p.V)
	fmt.Println(p)
	_, err = captions.Parse("a purple seven")
	fmt.Println(err)
	// Output:
	// 7 thick any any top
	// a thick seven at the top
	// captions: caption "a purple seven": unknown word "purple"
}

// A measurer calibrated on real images reads their attributes back; real
// images have nearly everything their own captions ask for, and much less
// of other images' captions. Generated images are scored the same way.
func ExampleAdherence() {
	cal, err := captions.Open("train", 500, 1)
	if err != nil {
		log.Fatal(err)
	}
	m, err := captions.Calibrate(cal)
	if err != nil {
		log.Fatal(err)
	}
	held, err := captions.Open("test", 300, 2)
	if err != nil {
		log.Fatal(err)
	}
	n := held.Len()
	x := make([]float32, n*captions.Side*captions.Side)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	held.Images.Batch(idx, x, nil) // model scale, as a sampler's images
	own, err := captions.Adherence(m, x, n, held.Prompts, 100, 1)
	if err != nil {
		log.Fatal(err)
	}
	others := make([]captions.Prompt, n)
	for i := range others {
		others[i] = held.Prompts[(i+1)%n]
	}
	shuffled, err := captions.Adherence(m, x, n, others, 100, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("own captions over 0.9:", own.Share.Value > 0.9)
	fmt.Println("shuffled captions under 0.5:", shuffled.Share.Value < 0.5)
	// Output:
	// own captions over 0.9: true
	// shuffled captions under 0.5: true
}
