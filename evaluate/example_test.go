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

func (e *everyOther) Predict(x *tensor.Dense, t float64, c diffusion.Cond) (*tensor.Dense, error) {
	if e.step%2 == 1 && e.last != nil && e.last.Shape().Eq(x.Shape()) {
		return e.last.Clone().(*tensor.Dense), nil
	}
	out, err := e.inner.Predict(x, t, c)
	if err != nil {
		return nil, err
	}
	e.last = out.Clone().(*tensor.Dense)
	return out, nil
}

// Compare a user-defined denoiser with the plain U-Net it saves work on:
// both draw the same samples from the same noise and labels; the
// comparison reports the method's quality (FID-MNIST, KID, class accuracy),
// the FLOPs it spent, the distance of its samples to the U-Net's, and
// their wall times in alternating rounds. Wall times vary from machine to
// machine, so the example prints only what they must satisfy.
func ExampleCompare() {
	cfg, err := unet.ConfigFrom("mnist_tiny") // a small untrained model
	if err != nil {
		log.Fatal(err)
	}
	m, err := unet.New(cfg, 1)
	if err != nil {
		log.Fatal(err)
	}
	noise, err := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if err != nil {
		log.Fatal(err)
	}
	c, err := metrics.MNISTClassifier()
	if err != nil {
		log.Fatal(err)
	}
	shape, err := cfg.SampleShape()
	if err != nil {
		log.Fatal(err)
	}
	labels, err := evaluate.LabelsFor(20, cfg.NumClasses())
	if err != nil {
		log.Fatal(err)
	}
	setup := evaluate.Setup{Noise: noise, Shape: shape, N: 20, Batch: 10, Cond: diffusion.Labels(labels)}
	plain := evaluate.Method{Name: "u-net", Denoiser: &diffusion.ModelDenoiser{Model: m}, Sampler: "dpmpp2m", Steps: 8}
	mine := plain
	mine.Name, mine.Denoiser = "every other step", &everyOther{inner: &diffusion.ModelDenoiser{Model: m}}
	cmp, _, err := evaluate.Compare(c, plain, mine, setup, evaluate.CompareOptions{
		Quality: metrics.QualityOptions{Bootstrap: 10}, Distances: true, Rounds: 3})
	if err != nil {
		log.Fatal(err)
	}
	p := cmp.Paired
	fmt.Printf("%s: %d samples, FLOPs %.2f of the U-Net's, FID-MNIST finite: %t, L2 to the U-Net's samples above 0: %t\n",
		cmp.Model, cmp.N, cmp.GFLOPsPerSample/cmp.RefGFLOPs, cmp.FID.Value > 0, cmp.L2.Value > 0)
	fmt.Printf("%d timed rounds of a batch of %d; speed-up within its spread: %t\n",
		p.Rounds, p.Batch, p.Speedup.Lo <= p.Speedup.Value && p.Speedup.Value <= p.Speedup.Hi)
	// Output:
	// every other step: 20 samples, FLOPs 0.50 of the U-Net's, FID-MNIST finite: true, L2 to the U-Net's samples above 0: true
	// 3 timed rounds of a batch of 10; speed-up within its spread: true
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
