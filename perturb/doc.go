// Package perturb measures which U-Net features can be perturbed without
// changing the sample, after Section 3 and Appendix C of Clockwork Diffusion
// (Habibian et al., CVPR 2024): a feature map at one tap is mixed with noise
// of the same statistics from some sampling step on, and the final samples
// are compared with their unperturbed twins drawn from the same noise.
//
// The perturbation (Mix) is the paper's statistics-preserving one: for a
// feature map f with mean m and standard deviation s, computed per sample
// and per channel over the spatial positions,
//
//	f ← m + √a·(f − m) + √(1−a)·z,   z ~ N(0, s²),
//
// so that a = 1 leaves f as it is and a = 0 replaces it by noise with its
// mean and standard deviation. Denoiser applies it at one named tap from
// step k on (k clean steps first); its noise comes from (seed, sample
// index, step, tap), shared by a sample's conditional and null rows under
// guidance, so a perturbed sample does not depend on the batch it is drawn
// in.
//
// Study is the sweep of the paper's figures (tap × k × a × sampler) on the
// study runner (package study), and Report turns its records into the
// figures, results.csv and a summary.md that puts numbers on the paper's
// qualitative claims.
package perturb
