// Package metrics measures generative quality and cost: a small MNIST
// classifier (shipped with the repository) whose penultimate features give a
// Fréchet distance (FID-MNIST) and a kernel inception distance (KID), the
// class accuracy of class-conditional samples, paired distances between two
// sample sets, and analytic FLOP counts of U-Net forward passes.
package metrics
