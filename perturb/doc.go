// Package perturb perturbs U-Net features from a sampling step on, after
// Section 3 and Appendix C of Clockwork Diffusion (Habibian et al., CVPR
// 2024): a feature map at one tap is mixed with noise of the same
// statistics.
//
// The perturbation (Mix) is the paper's statistics-preserving one: for a
// feature map f with mean m and standard deviation s, computed per sample
// and per channel over the spatial positions,
//
//	f ← m + √a·(f − m) + √(1−a)·z,   z ~ N(0, s²),
//
// so that a = 1 leaves f as it is and a = 0 replaces it by noise with its
// mean and standard deviation. Denoiser applies a Perturbation at one
// named tap from step k on (k clean steps first) to any denoiser that runs
// a U-Net through diffusion.Tapper: the plain model, or a Clockwork
// sampler. Its noise comes from (seed, sample index, step, tap), shared by
// a sample's rows on every branch of guidance, so a perturbed sample does
// not depend on the batch it is drawn in. Prefix replays the clean steps
// of a stateless model from its unperturbed run.
//
// The study of the paper's figures is package perturbstudy.
package perturb
