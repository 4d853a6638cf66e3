package clockstudy_test

import (
	"fmt"
	"log"

	"github.com/clockwork-go/clockwork/clockstudy"
	"github.com/clockwork-go/clockwork/unet"
)

// The cells of the quick study for a teacher of the reference MNIST
// config: the teacher at 8 DPM-Solver++ steps and at the step counts that
// cost about what Clockwork costs, and the ladder of approximations under
// clock 2. A Runner distils and measures them (experiments/clockwork).
func ExampleQuick() {
	cfg, err := unet.ConfigFrom("mnist")
	if err != nil {
		log.Fatal(err)
	}
	teacher, err := unet.New(cfg, 0)
	if err != nil {
		log.Fatal(err)
	}
	c, err := clockstudy.Quick(teacher)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.N, "samples per cell")
	for _, m := range c.Methods {
		fmt.Println(m.Label())
	}
	// Output:
	// 500 samples per cell
	// teacher, 8 dpmpp2m steps
	// identity clock 2
	// scaleshift clock 2
	// resnet clock 2
	// unet-light clock 2
	// teacher, 5 dpmpp2m steps
	// teacher, 6 dpmpp2m steps
}
