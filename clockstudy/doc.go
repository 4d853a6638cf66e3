// Package clockstudy is the Clockwork study: every claim of Clockwork
// Diffusion (Habibian et al., CVPR 2024) tested on an MNIST teacher, next
// to the training-free feature-reuse peers, on the study runner (package
// study: resumable, shardable, mergeable).
//
// A cell is a sampling method at an operating point: the teacher at some
// step count, a Clockwork adaptor (identity, the per-step scale-and-shift
// of Block Caching, the paper's ResNet adaptor, UNet-light, or a user's
// registered kind) under a clock, at a cut depth, distilled from unrolled
// or forward-noised data, or a user's own method (CustomMethod, built by
// the Runner's Builder: a DeepCache, a Block Caching, anything that is a
// diffusion.Denoiser).
// The runner distils the adaptors a cell needs (or reuses those already
// distilled for the same teacher and settings) and measures every cell
// against the teacher through package evaluate's one comparison layer,
// with the same noise and labels: FLOPs per sample, the wall-time speed-up
// against the teacher at 8 steps in alternating rounds, FID-MNIST, KID and
// class accuracy with 95% intervals, and the L2 distance and PSNR to the
// teacher's samples from the same noise. Report writes the Pareto figures,
// sample grids, distillation curves, tables.md, results.csv and a
// summary.md whose claims (Claims) carry computed verdicts, criterion by
// criterion (FLOPs, quality, wall time, …).
package clockstudy
