// Command train trains a diffusion U-Net and writes a run directory:
// checkpoints/ (resumable; Ctrl-C writes one), metrics.jsonl, samples/
// (grids drawn from the EMA weights) and, at the end, model/: a
// diffusers-style model directory of the EMA weights with its
// scheduler_config.json. One process writes a run directory at a time. A
// resume checks the checkpoint it continues from and that -data gives the
// images the run was trained on (-force continues on others).
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/train"
)

func main() { cli.Main(train.Run) }
