// Command benchmark times U-Net training or sampling steps:
//
//	go run ./experiments/benchmark -config configs/mnist.json -batch 16 -steps 20 -mode train
//
// It builds the U-Net of a diffusers-format config (a path, a model
// directory or an embedded name such as "mnist"), runs -warmup untimed steps
// and -steps timed ones (train: eps-MSE loss, backward and an Adam update;
// sample: one forward pass without gradients) and prints the median seconds
// per step on its last line as "RESULT train_step_median_s X" or
// "RESULT sample_step_median_s X".
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/benchmark"
)

func main() { cli.Main(benchmark.Run) }
