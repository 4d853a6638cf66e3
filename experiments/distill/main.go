// Command distill trains a Clockwork adaptor for a teacher model by
// model-step distillation (Habibian et al., CVPR 2024, Sec. 4.4): each
// epoch it unrolls fresh teacher trajectories with the deployment sampler
// and step count and fits the adaptor to the core's output r_out at the
// clock's adaptor steps; for an instruction-guided editor, -strength
// distils for edits started part-way from their source (the trajectories
// start from each pair's noised source). It writes an adaptor directory (adaptor.json,
// adaptor.npz, metrics.jsonl, checkpoints/); Ctrl-C checkpoints, -resume
// continues bit for bit.
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/distill"
)

func main() { cli.Main(distill.Run) }
