// Package configs embeds the toolkit's reference U-Net configurations
// (diffusers config.json files), so that commands run on a fresh clone with
// no files to fetch.
//
//   - mnist.json: the reference class-conditional MNIST U-Net (32×32, one
//     channel, 11 classes: the ten digits and a null class for
//     classifier-free guidance), with attention only at 8×8.
//   - mnist_attn32.json: the same with attention also at the highest
//     resolution (32×32), for speed studies.
//   - mnist_tiny.json: the reference layout at widths 8, 16, 16 (GroupNorm
//     groups 4, attention head width 8): a model small enough for tests
//     and runnable examples, never trained.
package configs
