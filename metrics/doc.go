// Package metrics measures the generative quality of MNIST-like samples: a
// small MNIST classifier (weights shipped in weights/) whose penultimate
// features give a Fréchet distance (FID-MNIST, after Heusel et al.,
// NeurIPS 2017) and a kernel distance (KID, Bińkowski et al., ICLR 2018),
// the class accuracy of class-conditional samples, paired distances
// between two sample sets (L2, PSNR) and bootstrap intervals. It knows
// nothing of diffusion models: package evaluate samples a method and
// measures it with these.
package metrics
