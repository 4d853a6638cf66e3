package datasets_test

import (
	"fmt"
	"log"

	"github.com/clockwork-go/clockwork/datasets"
)

// MNIST's test split, from the GoMNIST module the Go module proxy brings,
// padded to 32×32 with pixels in [−1, 1].
func ExampleMNIST() {
	d, err := datasets.MNIST("test", "", true)
	if err != nil {
		log.Fatal(err)
	}
	c, h, w := d.Shape()
	x := make([]float32, c*h*w)
	d.Image(0, x)
	fmt.Printf("%s: %d images of %d×%d×%d, first label %d, corner pixel %g\n", d.Name, d.Len(), c, h, w, d.Labels[0], x[0])
	// Output: mnist-test: 10000 images of 1×32×32, first label 7, corner pixel -1
}

// A command's -data flag goes through Open; a Loader then draws seeded
// batches, epoch after epoch, with the epoch and position as its whole
// state.
func ExampleOpen() {
	d, err := datasets.Open("shapes:100", "train")
	if err != nil {
		log.Fatal(err)
	}
	l, err := datasets.NewLoader(d, 32, 0)
	if err != nil {
		log.Fatal(err)
	}
	c, h, w := d.Shape()
	x, labels := make([]float32, 32*c*h*w), make([]int64, 32)
	for range 4 {
		l.Next(x, labels)
	}
	fmt.Printf("%d images of %d×%d×%d in %d classes; after 4 batches: epoch %d, position %d\n", d.Len(), c, h, w, d.Classes, l.Epoch, l.Pos)
	// Output: 100 images of 3×32×32 in 4 classes; after 4 batches: epoch 1, position 32
}
