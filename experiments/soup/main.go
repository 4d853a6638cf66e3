// Command soup averages the weights of model directories fine-tuned from
// one parent into a new model directory: a model soup (Wortsman et al.,
// "Model soups: averaging weights of multiple fine-tuned models improves
// accuracy without increasing inference time", ICML 2022), which costs
// nothing at sampling time. The directories must share one layout: the
// same files, every one but the weights (.safetensors, averaged by name in
// float64, each -weights share of the sum; equal shares by default) the
// same bytes; README.md and provenance.json are not carried over, and the
// sampling defaults (editor_defaults.json, sampling_defaults.json) are the
// first directory's that has them. soup.json records the ingredients,
// their weights, their weights files' SHA-256 and the command's
// provenance. The directory is built beside -out and renamed into place:
// an error (another layout, a shape, a NaN weight) leaves nothing.
package main

import (
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/soup"
)

func main() { cli.Main(soup.Run) }
