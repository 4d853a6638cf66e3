// Command segment trains, evaluates and runs the segmentation U-Net of
// package segment (Ronneberger et al., MICCAI 2015, with the Attention
// and residual variants) on the digit scenes of package scenes, whose
// masks are exact.
//
//	segment -out runs/seg                 train (resumable: -resume), then evaluate on held-out scenes
//	segment -eval -model DIR -n 500       per-class IoU, mean IoU, Dice, pixel accuracy, touching digits separated
//	segment -predict -input IN.npz -output OUT.npz [-tile 64]
//	                                      masks (N, H, W) of images (N, C, H, W) in [−1, 1] of any size,
//	                                      by the overlap-tile strategy, with a PNG overlay beside them
//	segment -scenes 8 -size 128 -output scenes.npz
//	                                      held-out scenes: images, masks, instances
//	segment -study DIR -steps 3000        the three variants with the weight map and the U-Net
//	                                      without it, same data and steps: table, curves, IoU bars, overlays
//
// Training checkpoints every -checkpoint-every steps; Ctrl-C writes a
// checkpoint, and -resume (for -study: the same command line) continues
// bit for bit.
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/segment"
)

func main() { cli.Main(segment.Run) }
