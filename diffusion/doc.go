// Package diffusion trains and samples diffusion models over the U-Nets of
// package unet.
//
// Schedule holds the noise schedule (linear, scaled-linear, cosine
// "squaredcos_cap_v2", sigmoid; optionally rescaled to a zero terminal SNR,
// Lin et al., "Common Diffusion Noise Schedules and Sample Steps Are
// Flawed", WACV 2024) with diffusers' scheduler_config.json keys, the
// prediction types (ε, x₀, v) and min-SNR-γ loss weights (Hang et al.,
// ICCV 2023).
//
// Sample and SampleMany run the samplers — DDPM (Ho et al., NeurIPS 2020),
// DDIM (Song et al., ICLR 2021), DPM-Solver++(2M) (Lu et al., 2022; the
// sampler of the Clockwork paper, Habibian et al., CVPR 2024) and Euler
// (Karras et al., NeurIPS 2022) — on any Denoiser, with classifier-free
// guidance (Guided; Ho and Salimans, 2022), a hook called before every
// model step (to perturb or replace features from some step on), and
// per-sample noise streams, so a sample depends on its seed and index,
// never on the batch size. Their coefficients, timesteps and trajectories
// match diffusers' schedulers (tests against fixtures from
// scripts/reference).
//
// Trainer trains a U-Net's denoiser: AdamW with warm-up and cosine decay,
// EMA weights, gradient clipping, classifier-free-guidance dropout, atomic
// resumable checkpoints (a run resumed with its step count unchanged
// continues bit for bit; the cosine schedule depends on it), metrics.jsonl,
// sample grids, and the EMA model exported as a diffusers-style model
// directory.
package diffusion
