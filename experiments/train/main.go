// Command train trains a diffusion U-Net and writes a run directory:
// checkpoints/ (resumable; Ctrl-C writes one), metrics.jsonl, samples/
// (grids drawn from the EMA weights) and, at the end, model/: a
// diffusers-style model directory of the EMA weights with its
// scheduler_config.json and, for a run fine-tuned from -init (or a
// student distilled from its teacher), the parent's sampling defaults
// (sampling_defaults.json, editor_defaults.json: guidance, steps,
// chaining), chosen_by naming the parent, so that it samples and edits
// as the parent does. -max-timestep T trains on timesteps below T alone
// (a low-noise expert). One process writes a run directory at a time. A
// resume checks the checkpoint it continues from and that -data gives the
// images the run was trained on (-force continues on others).
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/train"
)

func main() { cli.Main(train.Run) }
