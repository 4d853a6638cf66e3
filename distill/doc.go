// Package distill is Clockwork Diffusion (Habibian et al., "Clockwork
// Diffusion: Efficient Generation With Model-Step Distillation", CVPR 2024):
// a light adaptor replaces the U-Net's low-resolution core on the clock's
// steps, and model-step distillation trains it to match the core's output
// along the teacher's own sampling trajectories.
//
// The pieces:
//
//   - Clock, the paper's C(t): which model evaluations run the full U-Net
//     and which the adaptor (clock N, or an explicit set such as
//     {2,4,6,8}, 1-based as in the paper; the first step is always full
//     when the adaptor needs the previous step's r_out);
//   - Adaptor, a replacement for the core at a cut depth (unet.Split),
//     and Trainable, one with parameters and a graph that distillation
//     fits. Kinds are registered by name (RegisterKind), so that a user's
//     kind loads from its directory, distils and enters the studies like
//     the toolkit's own, one file each: identity (r_out_t = r_out_{t+1},
//     the training-free method of the official code and of DeepCache),
//     scaleshift (a per-step, per-channel scale and shift of the cached
//     r_out: the light trained variant of Block Caching, Wimbauer et al.,
//     CVPR 2024), resnet (the paper's adaptor, Sec. 4.2), unet-light (a
//     small U-Net) and oracle (the real core: a test of the machinery).
//     Each counts its analytic FLOPs in unet.Cost's conventions;
//   - Clockwork, a diffusion.Denoiser that runs the shell and then the core
//     or the adaptor as the clock says, under any registered sampler and
//     inside guidance, counting the FLOPs it spends;
//   - Distiller, model-step distillation (Sec. 4.4, App. Alg. 1): every
//     epoch it unrolls teacher trajectories from pure noise with the
//     deployment sampler and step count (Unroll), records (t, r_in_t,
//     r_out_t, r_out_{t+1}) at the adaptor's steps and fits the adaptor
//     with an L2 loss on r_out_t, on the shared training loop (package
//     train: resumable, bit for bit); forward-noised real images are the
//     paper's alternative (Noised). For an instruction-guided editor
//     (UseEdits), Config.Strength distils for edits started part-way from
//     their source (SDEdit, as edits.Options.Strength runs them): the
//     trajectories start from each edit pair's source noised to the first
//     step kept, and the clock covers the steps such a run makes. A
//     Source shares each epoch's trajectories between distillers run side
//     by side.
//
// An adaptor directory (adaptor.json and adaptor.npz) records the kind,
// the teacher's fingerprint and the sampler, step count and start (from
// noise, or from the source at a strength) it was trained for; loading it
// for another teacher or operating point is an error (Load, Open; LoadFrom
// and OpenFrom for runs from the source).
package distill
