// Command eval measures a model's samples: FID-MNIST and KID against the
// MNIST test set, the class accuracy of class-conditional samples (by the
// shipped classifier), GFLOPs and wall time per sample, each quality
// figure with a 95% interval. With -adaptor it compares Clockwork with the
// plain model (evaluate.Compare): L2 and PSNR to the plain model's samples
// from the same noise and labels, and the wall-time speed-up in
// alternating rounds next to the FLOPs ratio. It writes a JSON report and
// a sample grid (by default under runs/eval/) and prints a table.
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/eval"
)

func main() { cli.Main(eval.Run) }
