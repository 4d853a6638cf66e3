package evaluate_test

import (
	"fmt"
	"log"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/unet"
)

// everyOther is a user's own denoiser: it runs the U-Net on even steps only
// and repeats its last output on odd ones (a crude step cache). It wraps the
// U-Net's denoiser, so the sampler tells it the step (BeginStep) and the
// U-Net's FLOP counter sees only the passes that ran.
type everyOther struct {
	inner diffusion.Denoiser
	step  int
	last  *tensor.Dense
}

func (e *everyOther) Unwrap() diffusion.Denoiser { return e.inner }

func (e *everyOther) BeginStep(info diffusion.StepInfo) error {
	e.step = info.Index
	return nil
}

func (e *everyOther) Predict(x *tensor.Dense, t float64, labels []int64) (*tensor.Dense, error) {
	if e.step%2 == 1 && e.last != nil && e.last.Shape().Eq(x.Shape()) {
		return e.last.Clone().(*tensor.Dense), nil
	}
	out, err := e.inner.Predict(x, t, labels)
	if err != nil {
		return nil, err
	}
	e.last = out.Clone().(*tensor.Dense)
	return out, nil
}

// Evaluate a user-defined denoiser end to end: samples, FID-MNIST, KID,
// class accuracy and the FLOPs it spent, against the plain U-Net.
func ExampleRun() {
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
	c, err := metrics.MNISTClassifier()
	if err != nil {
		log.Fatal(err)
	}
	labels, err := evaluate.LabelsFor(20, cfg.NumClasses())
	if err != nil {
		log.Fatal(err)
	}
	o := evaluate.Options{Sampler: "dpmpp2m", Steps: 8, N: 20, Batch: 10, Labels: labels, Quality: metrics.QualityOptions{Bootstrap: 10}}
	o.Name = "u-net"
	full, _, err := evaluate.Run(c, &diffusion.ModelDenoiser{Model: m}, s, o)
	if err != nil {
		log.Fatal(err)
	}
	o.Name = "every other step"
	mine, samples, err := evaluate.Run(c, &everyOther{inner: &diffusion.ModelDenoiser{Model: m}}, s, o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d samples, FLOPs %.2f of the U-Net's, FID-MNIST finite: %t\n",
		mine.Model, samples.N, mine.GFLOPsPerSample/full.GFLOPsPerSample, mine.FID.Value > 0)
	// Output:
	// every other step: 20 samples, FLOPs 0.50 of the U-Net's, FID-MNIST finite: true
}

// Time a user-defined denoiser against the plain U-Net it saves work on:
// both draw the same batch in alternating rounds, and the speed-up is the
// median of the rounds' ratios (its spread in Lo and Hi). Wall times vary
// from machine to machine, so the example prints only what they must
// satisfy.
func ExampleTimePaired() {
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
	labels, err := evaluate.LabelsFor(8, cfg.NumClasses())
	if err != nil {
		log.Fatal(err)
	}
	plain := &diffusion.ModelDenoiser{Model: m}
	cached := &everyOther{inner: &diffusion.ModelDenoiser{Model: m}}
	p, err := evaluate.TimePaired(plain, cached, s, evaluate.PairOptions{
		Sampler: "dpmpp2m", Steps: 8, Batch: 8, Labels: labels, Rounds: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d rounds of a batch of %d; both timed: %t; speed-up within its spread: %t\n",
		p.Rounds, p.Batch, p.MsA > 0 && p.MsB > 0, p.Speedup.Lo <= p.Speedup.Value && p.Speedup.Value <= p.Speedup.Hi)
	// Output:
	// 3 rounds of a batch of 8; both timed: true; speed-up within its spread: true
}

// The confidence interval of a median speed-up from 31 paired rounds runs
// from the 10th to the 22nd smallest round's ratio, with a coverage of
// 97%; 5 rounds are too few for any 95% interval.
func ExampleMedianCIOrder() {
	for _, n := range []int{5, 11, 31} {
		k, cover := evaluate.MedianCIOrder(n)
		if k == 0 {
			fmt.Printf("%d rounds: no interval\n", n)
			continue
		}
		fmt.Printf("%d rounds: ratios %d to %d of the sorted rounds, coverage %.3f\n", n, k, n+1-k, cover)
	}
	// Output:
	// 5 rounds: no interval
	// 11 rounds: ratios 2 to 10 of the sorted rounds, coverage 0.988
	// 31 rounds: ratios 10 to 22 of the sorted rounds, coverage 0.971
}
