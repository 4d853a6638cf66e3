package diffusion_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/unet"
)

// Draw class-conditional samples with 20 DPM-Solver++ steps and guidance.
func ExampleSample() {
	m, err := unet.Load("../unet/testdata/classcond")
	if err != nil {
		log.Fatal(err)
	}
	s, err := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if err != nil {
		log.Fatal(err)
	}
	g, err := diffusion.ClassGuidance(m.Config.NumClasses(), 2)
	if err != nil {
		log.Fatal(err)
	}
	d, err := diffusion.Guide(&diffusion.ModelDenoiser{Model: m}, g)
	if err != nil {
		log.Fatal(err)
	}
	x, err := diffusion.Sample(d, s, []int{2, 1, 16, 16}, diffusion.Options{
		Sampler: "dpmpp2m", Steps: 20, Seed: 7, Cond: diffusion.Labels([]int64{3, 5}),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(x.Shape())
	// Output: (2, 1, 16, 16)
}

// Start from images instead of noise (SDEdit; diffusers' image-to-image
// strength): of 8 steps the sampler runs the last int(8·0.5) = 4, from the
// images noised to the first of them.
func ExampleOptions_strength() {
	m, err := unet.Load("../unet/testdata/classcond")
	if err != nil {
		log.Fatal(err)
	}
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	images := make([]float32, 2*16*16) // two blank images in [−1, 1]
	for i := range images {
		images[i] = -1
	}
	evals := 0
	x, err := diffusion.Sample(&diffusion.ModelDenoiser{Model: m}, s, []int{2, 1, 16, 16}, diffusion.Options{
		Sampler: "dpmpp2m", Steps: 8, Seed: 7, Cond: diffusion.Labels([]int64{3, 5}),
		Init: images, Strength: 0.5,
		Hook: func(diffusion.StepInfo) error { evals++; return nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(x.Shape(), evals, "model evaluations")
	// Output: (2, 1, 16, 16) 4 model evaluations
}

// A perturbation study plugs in through the step hook and the model's tap
// hook, not inside the sampler: from step 5 on, the mid block's features are
// replaced by zeros (any function of the feature map would do).
func ExampleOptions_hook() {
	m, err := unet.Load("../unet/testdata/classcond")
	if err != nil {
		log.Fatal(err)
	}
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	md := &diffusion.ModelDenoiser{Model: m}
	perturbed := 0
	o := diffusion.Options{Sampler: "dpmpp2m", Steps: 8, Seed: 1, Cond: diffusion.Labels([]int64{4}),
		Hook: func(info diffusion.StepInfo) error {
			md.Hook = nil
			if info.Index >= 5 {
				md.Hook = func(tap string, x *tensor.Dense) (*tensor.Dense, error) {
					if tap != unet.TapMid {
						return nil, nil
					}
					perturbed++
					return tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32)), nil
				}
			}
			return nil
		}}
	if _, err := diffusion.Sample(md, s, []int{1, 1, 16, 16}, o); err != nil {
		log.Fatal(err)
	}
	fmt.Println("perturbed steps:", perturbed)
	// Output: perturbed steps: 3
}

// Train a small class-conditional U-Net on synthetic shapes for a few
// steps, then resume the run from its checkpoint and extend it to four
// steps. (A run resumed with an unchanged step count continues bit for bit;
// a longer one also stretches the cosine learning-rate schedule.)
func ExampleNewTrainer() {
	c := unet.DefaultConfig()
	c.BlockOutChannels = []int{8, 16}
	c.DownBlockTypes = []string{"DownBlock2D", "AttnDownBlock2D"}
	c.UpBlockTypes = []string{"AttnUpBlock2D", "UpBlock2D"}
	c.LayersPerBlock = 1
	groups, head, classes := 4, 8, 5 // four shapes and the null class
	c.NormNumGroups, c.AttentionHeadDim, c.NumClassEmbeds = &groups, &head, &classes
	m, err := unet.New(c, 0)
	if err != nil {
		log.Fatal(err)
	}
	data, err := datasets.Shapes(64, 32, 1)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "run")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tc := diffusion.DefaultTrainConfig()
	tc.Steps, tc.BatchSize, tc.Warmup, tc.CheckpointEvery, tc.SampleEvery = 2, 8, 1, 2, 0
	tr, err := diffusion.NewTrainer(dir, m, data, tc)
	if err != nil {
		log.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	tr, err = diffusion.ResumeTrainer(dir, data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resumed at step", tr.Step)
	tr.Config.Steps = 4
	if err := tr.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	ema, err := unet.Load(filepath.Join(dir, "model")) // the exported EMA model
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("trained to step", tr.Step, "with", ema.Params.Count(), "parameters")
	// Output:
	// resumed at step 2
	// trained to step 4 with 45419 parameters
}

// A diffusers scheduler config's sampler keys are honoured: Stable
// Diffusion 1.x's steps_offset of 1 under leading spacing moves DDIM's
// timesteps up by one, as diffusers' DDIMScheduler lays them.
func ExampleSamplerConfig() {
	c := diffusion.DefaultScheduleConfig()
	c.SamplerConfig = diffusion.SamplerConfig{TimestepSpacing: diffusion.SpacingLeading, StepsOffset: 1}
	s, err := diffusion.NewSchedule(c)
	if err != nil {
		log.Fatal(err)
	}
	var ts []float64
	o := diffusion.Options{Sampler: "ddim", Steps: 4, Hook: func(i diffusion.StepInfo) error { ts = append(ts, i.T); return nil }}
	if _, err := diffusion.Sample(noNoise{}, s, []int{1, 1, 2, 2}, o); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ts)
	// Output:
	// [751 501 251 1]
}

// noNoise is a denoiser that predicts zero noise everywhere.
type noNoise struct{}

func (noNoise) Predict(x *tensor.Dense, _ float64, _ diffusion.Cond) (*tensor.Dense, error) {
	return tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32)), nil
}
