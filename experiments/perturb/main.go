// Command perturb runs the perturbation-robustness study of Clockwork
// Diffusion's Section 3: a feature map at one tap of the U-Net is mixed
// with noise of its own statistics from step k on, and the final samples
// are compared with their unperturbed twins (same noise, same labels): L2
// distance, class flips, high-frequency share, FID-MNIST and KID per cell.
// Cells are appended to DIR/results.jsonl as they finish, so an interrupted
// study resumes; the figures, results.csv and summary.md come at the end
// (and from -merge).
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/perturb"
)

func main() { cli.Main(perturb.Run) }
