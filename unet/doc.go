// Package unet is the U-Net of diffusers' UNet2DModel (the denoiser family of
// Ho et al. 2020 and Stable Diffusion): a contracting path of down blocks, a
// mid block with attention, an expansive path of up blocks fed by skip
// connections, and an output head, with ResBlocks conditioned on a
// sinusoidal timestep embedding and, optionally, a class embedding.
//
// A Model is built from a diffusers config.json (same keys and defaults;
// unsupported block types and options are errors that name them) and its
// parameters carry diffusers' state_dict names and PyTorch layouts, so a
// model directory (config.json + model.npz) moves between diffusers and this
// package. Parity with an independent PyTorch reference is tested to 1e-4.
//
// Feature taps: Forward passes the output of conv_in, of every down block,
// of the mid block and of every up block through a Hook that may read or
// replace it. Split cuts the network at a depth into a high-resolution shell
// and a low-resolution core; ShellIn, Core and ShellOut run them separately,
// so that the core's input r_in and output r_out can be taken, cached and
// substituted, as Clockwork Diffusion (Habibian et al., CVPR 2024) and the
// perturbation studies need. Cost counts FLOPs per module analytically, and
// Split.Cost divides them between shell and core.
//
// Inference runs on graphs compiled once per input shape (nn.Func), one per
// block, with the parameters read in place: an optimiser's update is seen by
// the next pass.
package unet
