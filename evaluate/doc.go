// Package evaluate measures sampling methods and compares them, on
// MNIST-like images: it draws samples from any diffusion.Denoiser (a U-Net,
// Clockwork, a perturbed U-Net, a user's own) and reports their quality
// (FID-MNIST, KID, class accuracy, each with a 95% interval, from package
// metrics), the FLOPs per sample the method spent and its wall time.
//
// A Method is a denoiser and the sampler it runs under; a Setup is what
// the methods of an evaluation share (noise schedule, sample shape from the
// model, noise seed, conditioning), so that two methods draw each sample
// from the same noise and conditioning. Draw draws, Measure measures, Run
// does both; Compare measures a method against a reference (the plain
// model it saves work on): the L2 distance and PSNR of each sample to the
// reference's twin (Distances) and the wall-time speed-up in alternating
// rounds in one process (TimePaired), the way every speed-up of the
// toolkit is quoted. The eval command and both studies use this one layer.
//
// One clipping convention: samples are measured as images, clipped to
// [−1, 1] (diffusion.ClipImages) as they are stored and shown; DPM-Solver++
// and Euler leave that range and DDPM and DDIM do not.
//
// FLOPs come from the denoiser chain itself (diffusion.FLOPCounter: the
// U-Net's and the adaptors' analytic costs, counted per row as the run goes,
// so methods whose cost differs from step to step are counted as they ran).
// The package sits above metrics and diffusion, which know nothing of each
// other.
package evaluate
