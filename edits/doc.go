// Package edits is the toolkit's instruction-guided editing on toy data
// whose right answer is known exactly: an edit data set built on the
// captioned digits (package captions), measures of an edit against its
// ground truth, and the InstructPix2Pix editor (Brooks et al.,
// "InstructPix2Pix: Learning to Follow Image Editing Instructions", CVPR
// 2023) that the efficient editing of Qualcomm's MoViE (arXiv 2412.06578)
// and FAIRY (Wu et al., CVPR 2024) starts from.
//
// # The pairs
//
// A pair is a source image, an instruction and the target: the same MNIST
// digit drawn by the captioned digits' renderer with the same jitter and
// one or two attributes changed. The instructions are
//
//	make it thicker | make it thinner            stroke one step (thin, normal, thick)
//	make it bigger | make it smaller             size (small, large)
//	move it to the left | move it to the right   column one step (left, centre, right)
//	move it up | move it down                    row one step (top, middle, bottom)
//	rotate it a little left | … right            a rotation by 15° about the centre of mass
//
// and any two of them on different attributes joined by "and", in either
// order ("make it thicker and move it to the left"): 10 one-change and 40
// two-change instructions. An instruction is drawn only where it applies
// (a thick digit is not made thicker). One two-change instruction of each
// pair of attributes — ten in all, listed by Instruction.HeldOut — is held
// out of the train split, whose pairs draw MNIST's training digits; the
// test split draws MNIST's test digits, a third each of one-change,
// seen two-change and held-out instructions. Pair i of a seed is the same
// whatever the number drawn. Importing the package registers the data
// kind "edits" with datasets.Open: the targets as the images, the
// instructions as their captions, the sources as their Inputs, which is
// what the trainer trains an editor on ("edits:one" draws the train
// split's instructions from the one-change ones alone, ClauseMix: the
// clauses a chained edit makes one at a time; "edits:chained:FILE" adds to
// the train split an editor's own first-clause edits as the sources of
// its second clauses, ChainedData).
//
// # The measures
//
// Evaluate reads each edited image back with captions' measures: an edit
// is a success when every attribute the instruction changes reads as the
// source's value moved by the instruction's step, the right way by the
// right amount (the rotation read by MeasureAngle, the angle at which the
// rotated source best matches, within ±7.5° of 15°), and preserves the
// pair when every other attribute reads as the source's, the digit as
// the classifier reads the true edit, and the rotation stays within
// ±7.5°. PSNR and L2 to the true edit and the L1 distance outside the
// edited region (pixels whose 3×3 neighbourhood the edit leaves alone)
// are exact. Summarise reports them with intervals, per attribute, per
// kind of instruction and per instruction. The true edits themselves
// read as 0.971 success and 0.953 preservation on 3,000 test pairs: the
// measures' ceiling, reported beside every evaluation.
//
// # The editor
//
// An editor is a UNet2DConditionModel whose input is the noisy image
// concatenated with the source image (in_channels twice the image's),
// attending to the instruction (Editor, LoadEditor). Trained from a
// text-to-image model (the train command's -init), the new input channels
// start at zero and the text encoder's vocabulary grows by the
// instructions' words; the trainer drops the text, the image and both,
// 5% of the time each, as InstructPix2Pix does. Editor.Edit samples with
// two-scale guidance (diffusion.Guidance with ImageScale), the three
// branches in one batch, from noise or, with Options.Strength, from the
// source noised part-way (SDEdit, Meng et al., ICLR 2022), and edits an
// instruction's clauses in turn with Options.Chain.
package edits
