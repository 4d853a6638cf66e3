package perturb_test

import (
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/perturb"
	"github.com/clockwork-go/clockwork/unet"
)

// meanStd returns a channel's mean and population standard deviation.
func meanStd(x []float32) (m, s float64) {
	for _, v := range x {
		m += float64(v)
	}
	m /= float64(len(x))
	for _, v := range x {
		s += (float64(v) - m) * (float64(v) - m)
	}
	return m, math.Sqrt(s / float64(len(x)))
}

// The paper's statistics-preserving perturbation of a feature map: each
// channel keeps its mean and standard deviation (up to sampling noise),
// while a = 0.3 keeps only 30% of its variance from the original signal.
func ExampleMix() {
	const c, hw = 2, 64 * 64
	f := make([]float32, c*hw)
	for i := range f {
		f[i] = float32(math.Sin(float64(i)/50)) + float32(i/hw) // channel 1 is shifted by 1
	}
	orig := append([]float32(nil), f...)
	perturb.Mix(f, c, hw, 0.3, rand.New(rand.NewPCG(1, 2)))
	for ch := 0; ch < c; ch++ {
		m0, s0 := meanStd(orig[ch*hw : (ch+1)*hw])
		m1, s1 := meanStd(f[ch*hw : (ch+1)*hw])
		// The correlation with the original is about √a = 0.548.
		var cov float64
		for i := ch * hw; i < (ch+1)*hw; i++ {
			cov += (float64(orig[i]) - m0) * (float64(f[i]) - m1)
		}
		fmt.Printf("channel %d: mean %.2f -> %.2f, std %.2f -> %.2f, correlation %.2f\n", ch, m0, m1, s0, s1, cov/float64(hw)/(s0*s1))
	}
	// Output:
	// channel 0: mean 0.00 -> 0.02, std 0.71 -> 0.70, correlation 0.54
	// channel 1: mean 1.00 -> 0.99, std 0.71 -> 0.71, correlation 0.54
}

// Perturb the mid block from step 3 of 6 and replay the first three steps
// from the unperturbed run instead of recomputing them: the U-Net runs only
// for the perturbed half.
func ExamplePrefix() {
	cfg, err := unet.ConfigFrom("mnist_tiny") // a small untrained model
	if err != nil {
		log.Fatal(err)
	}
	m, err := unet.New(cfg, 1)
	if err != nil {
		log.Fatal(err)
	}
	s, err := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if err != nil {
		log.Fatal(err)
	}
	labels := []int64{0, 1, 2, 3}
	opts := diffusion.Options{Sampler: "dpmpp2m", Steps: 6, Seed: 1, Cond: diffusion.Labels(labels)}
	prefix := perturb.NewPrefix(6)
	if _, err := diffusion.SampleMany(prefix.Recorder(&diffusion.ModelDenoiser{Model: m}), s, []int{1, 32, 32}, 4, 4, opts, nil); err != nil {
		log.Fatal(err)
	}
	md := &diffusion.ModelDenoiser{Model: m}
	p, err := perturb.New(md, perturb.Perturbation{Tap: "mid_block", From: 3, A: 0.3}, m.Taps(), 6)
	if err != nil {
		log.Fatal(err)
	}
	p.Prefix = prefix
	if _, err := diffusion.SampleMany(p, s, []int{1, 32, 32}, 4, 4, opts, nil); err != nil {
		log.Fatal(err)
	}
	_, pass := m.Cost(32, 32).Total()
	fmt.Printf("%d outputs recorded; U-Net passes run: %d of 6 steps\n", prefix.Len(), md.FLOPs()/(4*pass))
	// Output:
	// 6 outputs recorded; U-Net passes run: 3 of 6 steps
}
