// Command edit edits images by an instruction with an InstructPix2Pix
// editor (Brooks et al., CVPR 2023; package edits), -model, by default the
// shipped one of models/mnist_edit_ft: -input is an .npz whose
// images (or samples, as the sample command writes them) are (N, C, H, W)
// in [−1, 1], or a PNG; -output an .npz of the edited images likewise,
// with a PNG strip beside it (the sources above their edits). Two-scale
// guidance takes -text-scale (s_T, default 7.5) and -image-scale (s_I,
// default 1.5), diffusers' pipeline defaults, unless the editor's
// editor_defaults.json gives its own; -chain edits an instruction's
// clauses ("A and B") one after another, as the shipped editor does by
// default (-chain=false: in one edit). With -eval it edits the
// first -n pairs of the edit data set's held-out split (MNIST's test
// digits; the instructions held out of training among them) and reports
// edit success, preservation, PSNR, L2 and L1 outside the edit, per kind
// of instruction and per instruction, beside the true edits' own measures.
// With -chain-data FILE it edits the two-change instructions among the
// first -n training pairs by their first clause and writes the edits, the
// sources a chained edit gives the second clauses, for the trainer's
// -data edits:chained:FILE. With -study DIR it edits the same pairs with
// the three-pass editor, its guidance-distilled student and Clockwork
// adaptors of either (each at the steps and start it was distilled for)
// and writes the table of their savings, a Pareto figure and strips.
// -adaptor runs Clockwork on the editor (an adaptor distilled by
// distill -model, for the steps and start the edits run).
// An edit depends only on -seed and the image's index, not on -batch.
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/edit"
)

func main() { cli.Main(edit.Run) }
