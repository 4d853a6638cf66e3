// Package clockstudy is the Clockwork study: every claim of Clockwork
// Diffusion (Habibian et al., CVPR 2024) tested on an MNIST teacher, next
// to the training-free feature-reuse peers, on the study runner (package
// study: resumable, shardable, mergeable).
//
// A cell is a sampling method at an operating point: the teacher at some
// step count, or a Clockwork adaptor (identity, the per-step scale-and-shift
// of Block Caching, the paper's ResNet adaptor, UNet-light) under a
// schedule, at a cut depth, distilled from unrolled or forward-noised data.
// The runner distils the adaptors a cell needs (or reuses those already
// distilled for the same teacher and settings) and measures every cell
// with the same noise and labels: FLOPs and wall time per sample,
// FID-MNIST, KID and class accuracy with 95% intervals, and the L2 distance
// and PSNR to the teacher's samples from the same noise. Report writes the
// Pareto figures, sample grids, distillation curves, tables.md, results.csv
// and a summary.md that sets each ablation beside the paper's tables.
package clockstudy
