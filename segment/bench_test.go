package segment_test

import (
	"testing"

	"github.com/clockwork-go/clockwork/scenes"
	"github.com/clockwork-go/clockwork/segment"
)

// BenchmarkTrainStep times one training step of the default network
// (valid padding, depth 3, width 16, batch norm) on a batch of 8 scenes,
// drawing the scenes and their weight maps inside the step as training
// does; -cpuprofile shows where the time goes. The speed against PyTorch is
// scripts/bench/segment_compare.sh's.
func BenchmarkTrainStep(b *testing.B) {
	for _, padding := range []string{"valid", "same"} {
		b.Run(padding, func(b *testing.B) {
			cfg := segment.DefaultConfig()
			cfg.Padding = padding
			m, err := segment.New(cfg, 0)
			if err != nil {
				b.Fatal(err)
			}
			opts := segment.DefaultTrainOptions()
			stream, err := scenes.OpenStream("train")
			if err != nil {
				b.Fatal(err)
			}
			tr, err := segment.NewTrainer(m, stream, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if err := tr.Step(i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
