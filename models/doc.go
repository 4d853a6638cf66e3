// Package models finds the models the toolkit's commands run on by default:
// a model trained with go run ./experiments/train (runs/mnist/model), and
// the teacher shipped with the repository (Teacher), so that the Clockwork
// study reproduces on a fresh machine without training first.
package models
