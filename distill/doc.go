// Package distill is Clockwork Diffusion (Habibian et al., "Clockwork
// Diffusion: Efficient Generation With Model-Step Distillation", CVPR 2024):
// a light adaptor replaces the U-Net's low-resolution core on scheduled
// sampling steps, and model-step distillation trains it to match the core's
// output along the teacher's own sampling trajectories.
//
// The pieces:
//
//   - Schedule, the clock: which steps run the full U-Net and which the
//     adaptor (clock N, or an explicit set such as {2,4,6,8}, 1-based as in
//     the paper; the first step is always full when the adaptor needs the
//     previous step's r_out);
//   - Adaptor, a replacement for the core at a cut depth (unet.Split):
//     identity (r_out_t = r_out_{t+1}, the training-free method of the
//     official code and of DeepCache), scaleshift (a per-step, per-channel
//     scale and shift of the cached r_out: the light trained variant of
//     Block Caching, Wimbauer et al., CVPR 2024), resnet (the paper's
//     adaptor, Sec. 4.2) and unet-light (a small U-Net), each with its
//     parameters and its analytic FLOPs in unet.Cost's conventions;
//   - Clockwork, a diffusion.Denoiser that runs the shell and then the core
//     or the adaptor as the schedule says, under any sampler and under
//     classifier-free guidance, counting the FLOPs it spends;
//   - Distill, model-step distillation (Sec. 4.4, App. Alg. 1): every epoch
//     it unrolls teacher trajectories from pure noise with the deployment
//     sampler and step count, records (t, r_in_t, r_out_t, r_out_{t+1}) at
//     the adaptor's steps and fits the adaptor with an L2 loss on r_out_t,
//     on the shared training loop (package train: resumable, bit for bit);
//     forward-noised real images are the paper's alternative.
//
// An adaptor directory (adaptor.json and adaptor.npz) records the teacher's
// fingerprint and the sampler and step count it was trained for; loading it
// for another teacher or operating point is an error.
package distill
