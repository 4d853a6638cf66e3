package distill_test

import (
	"fmt"
	"log"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/unet"
)

// Clockwork sampling on the reference MNIST U-Net (here with random
// weights): the ResNet adaptor replaces the low-resolution core on every
// other of 8 DPM-Solver++ steps, and the denoiser counts what it spends.
// A trained adaptor comes from a Distiller, or from an adaptor directory
// through Open or Load.
func Example() {
	cfg, err := unet.ConfigFrom("mnist")
	if err != nil {
		log.Fatal(err)
	}
	teacher, err := unet.New(cfg, 0)
	if err != nil {
		log.Fatal(err)
	}
	a, err := distill.New(teacher, distill.AdaptorConfig{Kind: "resnet", Depth: 1, Steps: 8}, 1)
	if err != nil {
		log.Fatal(err)
	}
	clock, err := distill.ClockN(2, 8)
	if err != nil {
		log.Fatal(err)
	}
	cw, err := distill.NewClockwork(teacher, a, clock)
	if err != nil {
		log.Fatal(err)
	}
	noise, err := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if err != nil {
		log.Fatal(err)
	}
	labels := []int64{3, 7}
	if _, err := diffusion.SampleMany(cw, noise, []int{1, 32, 32}, 2, 2, diffusion.Options{Sampler: "dpmpp2m", Steps: 8, Cond: diffusion.Labels(labels)}, nil); err != nil {
		log.Fatal(err)
	}
	_, unetFLOPs := teacher.Cost(32, 32).Total()
	fmt.Println("schedule:", clock, "- adaptor at steps", clock.Steps1())
	fmt.Printf("adaptor: %.1f%% of the U-Net's FLOPs\n", 100*float64(a.FLOPs())/float64(unetFLOPs))
	fmt.Printf("FLOPs per sample: %.2fx fewer than the U-Net at every step\n", float64(8*unetFLOPs)/float64(cw.FLOPs()/2))
	// Output:
	// schedule: clock 2 - adaptor at steps [2 4 6 8]
	// adaptor: 2.5% of the U-Net's FLOPs
	// FLOPs per sample: 1.43x fewer than the U-Net at every step
}
