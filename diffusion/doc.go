// Package diffusion will hold noise schedules, training losses, samplers and
// the trainer.
package diffusion
