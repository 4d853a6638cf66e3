// Package metrics measures the generative quality of MNIST-like samples: a
// small MNIST classifier (weights shipped in weights/) whose penultimate
// features give a Fréchet distance (FID-MNIST, after Heusel et al.,
// NeurIPS 2017) and a kernel distance (KID, Bińkowski et al., ICLR 2018),
// the class accuracy of class-conditional samples, paired distances
// between two sample sets (L2, PSNR), bootstrap intervals, and Evaluate,
// which samples a model and reports all of them with its cost (analytic
// FLOPs from package unet, and wall time per sample).
package metrics
