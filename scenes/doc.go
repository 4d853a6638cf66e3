// Package scenes generates the segmentation data set of the toolkit's
// U-Net for segmentation (package segment, after Ronneberger, Fischer and
// Brox, "U-Net: Convolutional Networks for Biomedical Image Segmentation",
// MICCAI 2015): scenes of several MNIST digits on a larger canvas (64×64
// by default), some touching or overlapping, with masks that are exact
// because the scene is drawn from them.
//
// A digit's pixels are those of its MNIST image at half intensity or more
// (128 of 255). The semantic mask holds class 0 for background and d + 1
// for a pixel of digit d; the instance mask holds 0 for background and
// i + 1 for the i-th digit drawn. Where digits overlap the one drawn last
// wins, in both masks; the image keeps the brighter of the overlapping
// pixels, as ink on ink would.
//
// Scene i is drawn from a generator seeded with (seed, i) alone, so the
// first m scenes of a set of n are the set of m, and a scene does not
// depend on how many are drawn. The train split draws MNIST's training
// digits with TrainSeed, the test split MNIST's test digits with TestSeed:
// no held-out scene shares a digit image with training.
package scenes
