// Package speed times U-Net training and sampling steps, for the benchmark
// command and its PyTorch peer comparison.
package speed
