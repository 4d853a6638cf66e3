// Package perturbstudy is the perturbation study of Clockwork Diffusion
// (Habibian et al., CVPR 2024, Sec. 3 and App. C, Fig. 2, 12, 13): the
// sweep of taps × start steps k × mixing weights a × samplers, each cell a
// model whose feature at one tap is perturbed (package perturb) from step k
// on, compared with its unperturbed twins from the same noise and labels:
// L2 distance, class flips (a semantic change), the high-frequency share
// of the difference (artifacts), FID-MNIST and KID.
//
// Config defines the grid (QuickConfig, FullConfig, Narrow), Runner runs
// its cells on the study runner (package study: resumable, sharded,
// mergeable) with the comparison layer (package evaluate), and Report
// writes results.csv, the figures and a summary.md whose verdicts on the
// paper's claims are computed from the numbers.
package perturbstudy
