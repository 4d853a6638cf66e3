// Package unet is the U-Net of diffusers' UNet2DModel (the denoiser family of
// Ho et al. 2020 and Stable Diffusion): a contracting path of down blocks, a
// mid block with attention, an expansive path of up blocks fed by skip
// connections, and an output head, with ResBlocks conditioned on a
// sinusoidal timestep embedding and, optionally, a class embedding; and of
// its text-conditioned sibling UNet2DConditionModel (Rombach et al.,
// "High-Resolution Image Synthesis with Latent Diffusion Models", CVPR
// 2022), whose CrossAttn blocks run Transformer2DModels (self-attention,
// cross-attention on the text, a GEGLU feed-forward) that attend to
// encoder_hidden_states under an optional mask, with class labels beside
// the text and any number of input channels (InstructPix2Pix's eight).
// Config's Class ("_class_name") says which; for UNet2DConditionModel,
// attention_head_dim is the number of heads, as diffusers reads it
// (diffusers issue 2011). Cond carries the labels and the text.
//
// A Model is built from a diffusers config.json (same keys and defaults;
// unsupported block types and options are errors that name them) and its
// parameters carry diffusers' state_dict names and PyTorch layouts, so a
// model directory (config.json and diffusion_pytorch_model.safetensors, as
// diffusers' save_pretrained writes it; model.npz and PyTorch's .bin are
// read too, fp16 and bf16 included) moves between diffusers and this
// package, and a diffusers pipeline directory loads its unet/ (Dir). Parity with independent PyTorch references written from
// diffusers' sources (scripts/reference/unet2d.py and unet2d_cond.py) is
// tested to 1e-4, outputs, taps and gradients, the text's included.
//
// Feature taps: Forward passes the output of conv_in, of every down block,
// of the mid block and of every up block through a Hook that may read or
// replace it. Split cuts the network at a depth into a high-resolution shell
// and a low-resolution core; ShellIn, Core and ShellOut run them separately,
// so that the core's input r_in and output r_out can be taken, cached and
// substituted, as Clockwork Diffusion (Habibian et al., CVPR 2024) and the
// perturbation studies need. Cost (CostAt for a text length) counts FLOPs
// per module analytically, and Split.Cost divides them between shell and
// core.
//
// Inference runs on graphs compiled once per input shape (nn.Func), one per
// block, with the parameters read in place: an optimiser's update is seen by
// the next pass.
package unet
