package speed

import (
	"io"
	"testing"

	"github.com/clockwork-go/clockwork/unet"
)

func benchMode(b *testing.B, config string, mode Mode) {
	c, err := unet.ConfigFrom(config)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Run(Options{Config: c, Batch: 16, Steps: b.N, Warmup: 2, Mode: mode}, io.Discard); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTrainStep times a training step of the reference MNIST U-Net at
// batch 16 (forward, backward, Adam).
func BenchmarkTrainStep(b *testing.B) { benchMode(b, "mnist", Train) }

// BenchmarkSampleStep times a sampling step (one forward pass) at batch 16.
func BenchmarkSampleStep(b *testing.B) { benchMode(b, "mnist", Sample) }
