// Package models holds the teacher shipped with the repository (Teacher),
// a class-conditional MNIST U-Net, and the one rule for the model a command
// runs on by default (Resolve: the shipped teacher unless -model says
// otherwise), so that every study reproduces on a fresh machine without
// training first. Segmenter does the same for the shipped segmentation
// model (package segment) of models/segment.
package models
