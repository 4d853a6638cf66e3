// Package diffusion trains and samples diffusion models over the U-Nets of
// package unet.
//
// Schedule holds the noise schedule (linear, scaled-linear, cosine
// "squaredcos_cap_v2", sigmoid; optionally rescaled to a zero terminal SNR,
// Lin et al., "Common Diffusion Noise Schedules and Sample Steps Are
// Flawed", WACV 2024) with diffusers' scheduler_config.json keys, the
// prediction types (ε, x₀, v) and min-SNR-γ loss weights (Hang et al.,
// ICCV 2023). A model directory must hold its scheduler_config.json
// (LoadModel): sampling with another schedule than the training's fails
// silently, so a missing file is an error, as is an unknown key.
//
// Sample and SampleMany run the samplers on any Denoiser. A sampler is a
// value (Sampler), registered by name (Register): the toolkit's DDPM (Ho et
// al., NeurIPS 2020), DDIM (Song et al., ICLR 2021), DPM-Solver++(2M) (Lu
// et al., 2022; the sampler of the Clockwork paper, Habibian et al., CVPR
// 2024) and Euler (Karras et al., NeurIPS 2022), one file each, and a
// user's. A sampler sees the run through an exported step protocol (Run):
// Denoise begins a model evaluation on every layer of the denoiser chain,
// calls the model and converts its output, of any prediction type, to the
// x₀ estimate once (Prediction, Scaling); EndStep ends it. The run checks
// the protocol, so a sampler cannot silently skip what a step-dependent
// method needs. Noise comes from per-sample streams, so a sample depends on
// its seed and index, never on the batch size. The toolkit's samplers match
// diffusers' schedulers in coefficients, timesteps and trajectories (tests
// against fixtures from scripts/reference), and honour the sampler keys of
// a model's scheduler_config.json as diffusers does (SamplerConfig:
// timestep_spacing, steps_offset, clip_sample, set_alpha_to_one,
// use_karras_sigmas, final_sigmas_type, variance_type); a key at a value
// they do not implement is an error naming it. DDPM and DDIM clip their x₀
// estimates to [−1, 1]; DPM-Solver++ and Euler do not, and their samples
// can leave that range: ClipImages is where samples become images.
// Options.Init and Strength start a run part-way from images (SDEdit, Meng
// et al., ICLR 2022; diffusers' image-to-image strength), every sampler
// alike.
//
// Conditioning is one value, Cond, carried row by row through every
// sampler, denoiser, guidance wrapper and step hook: class labels, a
// sequence of text embeddings with its mask and their pooled embedding
// (PromptCond makes them from prompts with a textenc.Prompter), an image
// concatenated to the input (ModelInput). Guidance (Guide) runs classifier-free guidance with
// one scale (Ho and Salimans, 2022) or InstructPix2Pix's two (Brooks et al.,
// CVPR 2023), its branches stacked in one batch.
//
// Methods plug in at the Denoiser interface, not inside the samplers: a
// denoiser may wrap another (Wrapper), and the run calls BeginStep
// (Stepper) before and EndStep (StepEnder) after every evaluation on each
// layer of the chain that has them. StepInfo carries the evaluation, the
// noise seed, the first sample index, the rows the layer will see (Row:
// which sample, which branch of guidance) and their conditioning, so a
// perturbation can draw per-sample noise that does not depend on the
// batch; StepEnd adds the step's x₀ estimate and the next state. Denoisers
// count the FLOPs they spend (FLOPCounter), and those that run a U-Net pass
// its feature taps to a hook (Tapper).
//
// Trainer trains a U-Net's denoiser on the shared training loop (package
// train): AdamW with warm-up and cosine decay, EMA weights, gradient
// clipping, classifier-free-guidance dropout, atomic resumable checkpoints
// (a run resumed with its step count unchanged continues bit for bit; the
// cosine schedule depends on it), metrics.jsonl, sample grids handed to a
// callback, and the EMA model exported as a diffusers-style model
// directory. A resume (Resume) verifies the checkpoint it continues from and
// that the data is the run's, recorded in every checkpoint. A
// UNet2DConditionModel trains with its text encoder (NewTextTrainer,
// NewTextFor): the encoder learns with the U-Net from the diffusion loss
// alone, as latent diffusion's conditioning stage did (Rombach et al., CVPR
// 2022, Sec. 3.3), the data's captions its input and the empty caption the
// dropped one; checkpoints and the exported model hold it in
// text_encoder/.
package diffusion
