package evaluate_test

import (
	"fmt"
	"log"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/models"
)

// The README's quick start: load the shipped teacher, attach Clockwork's
// identity adaptor on clock 2, and compare it with the teacher from the
// same noise and labels.
func Example_quickStart() {
	dir, err := models.Teacher()
	if err != nil {
		log.Fatal(err)
	}
	teacher, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		log.Fatal(err)
	}
	cw, _, err := distill.Open(teacher, "identity", 1, "dpmpp2m", 8, "clock:2", false) // or an adaptor directory
	if err != nil {
		log.Fatal(err)
	}
	shape, _ := teacher.Config.SampleShape()
	labels, _ := evaluate.LabelsFor(20, teacher.Config.NumClasses())
	setup := evaluate.Setup{Noise: noise, Shape: shape, N: 20, Batch: 10, Cond: diffusion.Labels(labels)}
	plain := evaluate.Method{Name: "teacher", Denoiser: &diffusion.ModelDenoiser{Model: teacher}, Sampler: "dpmpp2m", Steps: 8}
	fast := evaluate.Method{Name: "clockwork", Denoiser: cw, Sampler: "dpmpp2m", Steps: 8}
	clf, _ := metrics.MNISTClassifier()
	cmp, _, err := evaluate.Compare(clf, plain, fast, setup, evaluate.CompareOptions{Distances: true, Rounds: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.2f× fewer FLOPs; samples moved from the teacher's: %t\n", cmp.RefGFLOPs/cmp.GFLOPsPerSample, cmp.L2.Value > 0)
	// Output: 1.45× fewer FLOPs; samples moved from the teacher's: true
}
