// Package captions is a captioned-digits data set, the toolkit's toy
// stand-in for text-to-image generation: 32×32 grayscale images, each one
// MNIST digit drawn with attributes that can be measured back from the
// pixels, and a caption from a small grammar that names the digit and some
// of the other attributes. A text-conditioned diffusion model trains on the
// images and captions; Adherence then scores how well generated images
// have what their prompts ask for (the toy's stand-in for a CLIP score),
// against the ceiling of the same measures on real images
// (Measurer.Accuracy).
//
// # Images
//
// Generate takes a source digit (28×28, with its label) at a random index
// and draws, uniformly, its attributes:
//
//   - digit: the source's label, 0 to 9;
//   - size: small or large, the height of the ink (pixels of 128 and
//     above) rescaled to 13 or 22 pixels (±1, uniform), the aspect ratio
//     kept; a source that would not fit the canvas at that height is drawn
//     again (about 1% of sources for large thick digits, mostly wide 0s, 2s
//     and 5s; none for small ones);
//   - column and row: left, centre or right and top, middle or bottom, the
//     centre of mass put at 10, 16 or 22 pixels for small digits and 12, 16
//     or 20 for large ones (±1 on each axis, uniform), then moved the least
//     that keeps the whole digit (every source pixel that is not 0) inside
//     the canvas, which moves about a third of the large digits a little
//     and almost no small ones;
//   - stroke: thin, normal or thick, set by grayscale morphology of the
//     28×28 source before it is resized: erosions (3×3 cross minimum) or
//     dilations (3×3 cross maximum), the last blended with the image before
//     it, until the stroke width — the ink over half its total variation,
//     which for MNIST runs from about 1.2 to 3.7 pixels, median 2 — is 1.5,
//     2.6 or 4.2 source pixels. Bringing every digit to the same width,
//     rather than applying the same operation to each, is what makes the
//     three strokes separable: MNIST's own widths vary more than one
//     erosion changes them.
//
// The resizing is an antialiased bilinear resampling (a tent filter one
// output pixel wide when shrinking, one source pixel wide when enlarging),
// computed separably with explicit roundings so that the bytes are the
// same on every platform. Pixels are bytes, 0 the background and 255 ink,
// as MNIST's. Image i's source digit, attributes and caption come from a
// generator seeded with (seed, i) alone: the first m images of a set of n
// are the set of m. 60,000 images take about 2.2 s on one core.
//
// # Captions
//
// A caption names the digit always, as a word ("seven") or a numeral ("7")
// at random, and each other attribute — stroke, size, column, row — with
// probability NameProb (0.6), each drawn on its own, so captions run from
// "a 7" to "a thick small seven in the top left". The grammar, in lower
// case and without punctuation so that textenc's word-level tokenizer
// reads it, is
//
//	caption  = "a" [stroke] [size] digit [position]
//	stroke   = "thin" | "normal" | "thick"
//	size     = "small" | "large"
//	digit    = "zero" | "one" | … | "nine" | "0" | "1" | … | "9"
//	position = "on the left" | "in the centre column" | "on the right"  (column only)
//	         | "at the top" | "in the middle row" | "at the bottom"     (row only)
//	         | "in the" row column                                    (both)
//	         | "in the centre"                         (both: middle row, centre column)
//	row      = "top" | "middle" | "bottom"
//	column   = "left" | "centre" | "right"
//
// with "in the middle centre" written "in the centre". Every value of every
// attribute can be asked for, and each prompt has exactly one caption per
// digit form: Prompt.String gives the canonical one (the digit as a word),
// and Parse reads any of them back. An attribute a caption does not name
// is not constrained. The empty caption is the unconditional input of
// classifier-free guidance: it is no prompt, and Parse refuses it.
// Vocabulary lists the grammar's words for textenc.NewTokenizer.
//
// # Measures
//
// A Measurer reads the attributes back from an image in model scale
// ([−1, 1], as a sampler produces them; a set's bytes v map to
// v/127.5 − 1). It sees ink as clamp(v + 0.5, 0, 1) (see Geometry) and
// reads
//
//   - the digit with the shipped MNIST classifier (metrics.MNISTClassifier)
//     on the digit re-framed as MNIST's are (FrameCrop: the larger side of
//     its ink's bounding box scaled to 20 pixels, its centre of mass at the
//     centre), which is far more accurate than the classifier on the image
//     as it is (FrameWhole), since the classifier learned centred digits;
//     Calibrate keeps whichever framing is better on its set and records
//     both accuracies;
//   - the size from the height of the rows holding pixels above mid-grey;
//   - the column and the row from the ink's centre of mass;
//   - the stroke from the ink over half its total variation, which
//     separated the strokes best at both sizes among the estimators tried
//     (ink per bounding-box height, area over half the perimeter at several
//     levels, ink or area per skeleton length);
//
// each against thresholds that Calibrate fits on real images (the column,
// row and stroke ones separately for digits measured small and large), and
// that Save and LoadMeasurer keep in a JSON file. A Measurer calibrated on
// 5,000 images made from MNIST's training digits reads 10,000 made from its
// test digits with these accuracies (CAPTIONS_REPORT=1 go test -run
// TestReport -v ./captions prints them):
//
//	digit   0.931 (crop framing; 0.528 on the whole image)
//	size    0.9996
//	stroke  0.986
//	column  0.991
//	row     0.989
//	all     0.903 (every attribute right)
//
// The digit is the weak one — thick small digits are read right 86% of the
// time, normal large ones 97% — because the classifier learned MNIST's own
// strokes and framing. Real images have 0.971 of what their own captions
// ask for on average (Adherence's Share), 0.276 of what another image's
// caption asks for: the ceiling and the floor for generated images.
//
// # As data
//
// Importing the package registers the data kind "captions" with
// datasets.Open: "captions" is 60,000 images drawn from MNIST's training
// digits with seed TrainSeed for the train split, 10,000 from its test
// digits with seed TestSeed for the test split and 10,000 from its training
// digits with seed ValSeed for the val split (OpenSplit), "captions:N" the
// first N; the images' Captions are their captions and their Labels their
// digits.
package captions
