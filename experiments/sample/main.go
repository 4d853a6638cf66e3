// Command sample draws samples from a model directory (or Clockwork on it,
// with -adaptor) and writes them (N,C,H,W float32 in [−1, 1]) with their
// labels to an .npz file, and a PNG grid beside it (by default under
// runs/samples/). Samples are clipped to [−1, 1] as they are stored
// (diffusion.ClipImages). A sample depends only on -seed and its index,
// not on -batch.
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/sample"
)

func main() { cli.Main(sample.Run) }
