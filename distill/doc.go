// Package distill will hold the Clockwork adaptor and model-step distillation
// (Habibian et al., "Clockwork Diffusion: Efficient Generation With
// Model-Step Distillation", CVPR 2024): a light network that replaces the
// U-Net's low-resolution core on scheduled steps, trained to match the core's
// output r_out from r_in and the previous step's r_out along teacher sampling
// trajectories. It builds on the shell/core split of package unet.
package distill
