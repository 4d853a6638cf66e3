// Package segment is the U-Net where it began: the segmentation network of
// Ronneberger, Fischer and Brox ("U-Net: Convolutional Networks for
// Biomedical Image Segmentation", MICCAI 2015, arXiv 1505.04597), with its
// Attention (Oktay et al., MIDL 2018, arXiv 1804.03999) and residual
// (Zhang, Liu and Wang 2018, arXiv 1711.10684) variants, built from the
// layers of package nn and trained on the digit scenes of package scenes,
// whose masks are exact.
//
// A Config gives the depth, the base width, the padding (valid: the
// paper's, every 3×3 convolution shrinks the map, and an output is the
// centre of its input; same: the common variant), batch normalisation and
// the variant. Under valid padding not every input size fits (every map
// entering a 2×2 pooling must have an even side): OutputSize names the
// sizes that do. Predictor.Predict segments images of any size by the
// paper's overlap-tile strategy, mirroring the image at its borders; under
// valid padding a tiled prediction equals the one-piece one.
//
// WeightMap computes the paper's Eq. 2 loss weights from instance masks
// (class balance plus w0·exp(−(d1 + d2)²/2σ²), which makes the thin gaps
// between touching objects count); Trainer trains with the weighted
// pixel-wise softmax cross-entropy (optionally plus soft Dice) on the
// shared training loop (package train: checkpoints, resume, metrics).
// Evaluate reports per-class IoU, mean IoU, Dice, pixel accuracy and the
// share of touching digits kept apart, with bootstrap intervals.
package segment
