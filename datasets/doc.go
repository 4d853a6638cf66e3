// Package datasets will provide MNIST, seeded synthetic image sets and
// image arrays from .npy/.npz files.
package datasets
