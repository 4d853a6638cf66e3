// Command clockwork runs the Clockwork study: every claim of Clockwork
// Diffusion (Habibian et al., CVPR 2024) tested on an MNIST teacher, next
// to the training-free feature-reuse peers, with figures and a summary. It
// distils the adaptors it needs into -adaptors (reusing those already
// distilled for the same teacher and settings), measures each cell against
// the teacher from the same noise and labels, appends it to
// DIR/results.jsonl, and writes DIR/summary.md, tables.md, results.csv and
// the figures. A rerun reuses everything; an interrupted run resumes.
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/clockwork"
)

func main() { cli.Main(clockwork.Run) }
