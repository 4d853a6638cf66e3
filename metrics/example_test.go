package metrics_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/metrics"
)

// The quality measures of 500 real training digits against the MNIST test
// set, and of 500 images of noise: FID-MNIST and KID are lower for the
// digits (with 500 images both are biased upwards: compare sets of equal
// size only). Features of the reference split are computed once and cached.
func ExampleMeasureQuality() {
	c, err := metrics.MNISTClassifier()
	if err != nil {
		log.Fatal(err)
	}
	d, err := datasets.MNIST("train", "", true)
	if err != nil {
		log.Fatal(err)
	}
	const n = 500
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i * 100 // spread over the training set
	}
	digits, labels := make([]float32, n*32*32), make([]int64, n)
	d.Batch(idx, digits, labels)
	noise := make([]float32, n*32*32)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = float32(rng.Float64()*2 - 1)
	}
	o := metrics.QualityOptions{Reference: "test"}
	qd, err := metrics.MeasureQuality(c, digits, n, labels, o)
	if err != nil {
		log.Fatal(err)
	}
	qn, err := metrics.MeasureQuality(c, noise, n, labels, o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("digits beat noise on FID-MNIST:", qd.FID.Hi < qn.FID.Lo)
	fmt.Println("digits beat noise on KID:", qd.KID.Hi < qn.KID.Lo)
	fmt.Println("class accuracy of the digits over 0.95:", qd.Accuracy.Value > 0.95)
	// Output:
	// digits beat noise on FID-MNIST: true
	// digits beat noise on KID: true
	// class accuracy of the digits over 0.95: true
}

// The Fréchet distance between the Gaussians of two feature sets: here
// two 1-d sets with means 0 and 1 and equal spread, a distance of 1.
func ExampleFrechetDistance() {
	a := metrics.Features{N: 4, Dim: 1, X: []float32{-1, -1, 1, 1}}
	b := metrics.Features{N: 4, Dim: 1, X: []float32{0, 0, 2, 2}}
	sa, err := metrics.ComputeStats(a)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := metrics.ComputeStats(b)
	if err != nil {
		log.Fatal(err)
	}
	fd, err := metrics.FrechetDistance(sa, sb)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.6f\n", fd)
	// Output: 1.000000
}

// KID of two sets drawn from one distribution, with its jackknife
// interval: the unbiased estimate is near zero (and may be negative, by
// sampling error alone), and the interval, which counts both sets'
// sampling error, covers zero.
func ExampleKIDInterval() {
	rng := rand.New(rand.NewPCG(3, 4))
	draw := func(n int) metrics.Features {
		f := metrics.Features{N: n, Dim: 8}
		for i := 0; i < n*8; i++ {
			f.X = append(f.X, float32(rng.NormFloat64()))
		}
		return f
	}
	kid, err := metrics.KIDInterval(draw(300), draw(600))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("interval covers 0:", kid.Lo < 0 && kid.Hi > 0)
	// Output:
	// interval covers 0: true
}
