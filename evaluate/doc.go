// Package evaluate measures a sampling method on MNIST-like images: it draws
// samples from any diffusion.Denoiser (a U-Net, a Clockwork denoiser, a
// perturbed U-Net, a user's own) with the toolkit's samplers and reports
// their quality (FID-MNIST, KID, class accuracy, each with a 95% interval,
// from package metrics), the FLOPs per sample the method spent and the wall
// time per sample.
//
// FLOPs come from the denoiser chain itself (diffusion.FLOPCounter: the
// U-Net's and the adaptors' analytic costs, counted per row as the run goes,
// so methods whose cost differs from step to step are counted as they ran),
// or from the caller. Run is the entry point; Model is the wrapper for a
// model directory that the eval command uses.
//
// The package sits above metrics and diffusion, which know nothing of each
// other.
package evaluate
