// Package videos is the toolkit's toy video editing data: videos of one
// captioned digit moving along a known, seeded motion (a bouncing straight
// path, a steady rotation and a steady change of scale), each with its
// ground-truth edit under an instruction of package edits (the same digit
// edited, along the same motion), and measures that the known motion makes
// exact: per-frame PSNR to the true edit, per-frame edit success
// (Frame-Acc), the warp error of Lai et al. (ECCV 2018) with the true
// motion in place of optical flow, and Tem-Con with the shipped MNIST
// classifier's features in place of CLIP's. It is the ground on which
// FAIRY's anchor-based cross-frame attention (Wu et al., CVPR 2024, arXiv
// 2312.13834) and MoViE's efficient video editing (arXiv 2412.06578) are
// to be measured.
//
// Only the instructions that change a digit's stroke, size or rotation
// apply to a video (Instructions): a digit that already moves about the
// whole frame has no column or row to be moved to.
package videos
