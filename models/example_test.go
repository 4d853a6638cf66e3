package models_test

import (
	"fmt"
	"log"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/models"
)

// The shipped teacher is a model directory like any other: load it, and
// sample, evaluate or distil from it.
func ExampleTeacher() {
	dir, err := models.Teacher()
	if err != nil {
		log.Fatal(err)
	}
	m, noise, err := diffusion.LoadModel(dir)
	if err != nil {
		log.Fatal(err)
	}
	_, flops := m.Cost(32, 32).Total()
	fmt.Printf("%d parameters, %.2f GFLOPs per 32×32 pass, %d classes and the null class\n",
		m.Params.Count(), float64(flops)/1e9, m.Config.NumClasses()-1)
	fmt.Println("prediction:", noise.Config.PredictionType)
	// Output:
	// 1114209 parameters, 0.50 GFLOPs per 32×32 pass, 10 classes and the null class
	// prediction: epsilon
}
