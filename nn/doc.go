// Package nn holds the layers, ops and optimisers the toolkit builds its
// models from, over gorgonia's expression graphs and symbolic
// differentiation (gorgonia.org/gorgonia).
//
// Every op here is our own float32 kernel wrapped as a gorgonia Op with a
// symbolic gradient (Conv2d, GroupNormOp with fused SiLU, Upsample2x,
// MatMul/Linear, MultiHeadAttention, elementwise ops and losses), because
// gorgonia's own GroupNorm logs on every backward pass and its upsampling is
// slow, and so that every op owns its output buffer and a compiled graph
// allocates no tensors from one run to the next. Each op's gradient is
// checked against finite differences (package nntest).
//
// The segmentation U-Nets of package segment add ReLU, Sigmoid, MaxPool2x,
// ConvTranspose2x (the 2×2 up-convolution), CenterCrop (valid padding's
// crop-and-copy), BatchNorm2d (train and eval modes, running statistics
// kept in a store as buffers), MulChannels (attention gates),
// WeightedSoftmaxCE2d (the pixel-wise loss with a weight map) and
// SoftDiceLoss, each checked against PyTorch fixtures
// (scripts/reference/make_seg_fixtures.py) and finite differences.
//
// Convolutions run as GEMMs that read the zero-padded image in place
// (internal/simd); 3×3 stride-1 convolutions with padding 1 between 16 or
// more channels (even heights, widths a multiple of 8), and their input
// gradients, as Winograd F(2×2, 3×3) (Lavin and Gray, CVPR 2016: 16
// multiplies per 2×2 outputs instead of 36), and 3×3 stride-2 ones as one
// GEMM over the image's four parity planes. Tests check both against the
// direct method on every kernel path.
//
// A ResBlock's memory-bound passes run inside its convolutions, on each
// block of the output or input while it is in cache: ConvAdd adds the
// timestep embedding and the scaled residual as the Winograd output
// transform stores (in training graphs too); in graphs that are never
// differentiated (Graph.ForInference, which NewFunc sets without Grad)
// NormConv reads the channels of an up block's input and skip side by side,
// never writing their concatenation, and applies GroupNorm and SiLU plane
// by plane as the convolution reads them, and ResBlockInfer runs a whole
// block (both convolutions and the shortcut) group by group of samples, so
// that no intermediate tensor is written out whole. All equal the unfused
// chain of ops bit for bit where each plane fills whole vectors (every
// shipped model's shapes; see ConvAdd for the exception), as tests check
// on every kernel path, so sampling gives the same images as before the
// fusion.
//
// Parameters live in a Params store under PyTorch state_dict names and are
// initialised from explicit seeds, never from gorgonia's clock-seeded
// initialisers. Graph binds them into an expression graph; Adam (and AdamW),
// EMA and ClipGradNorm update them.
//
// A typical training graph:
//
//	g := nn.NewGraph(params)
//	x := g.Input("x", n, c, h, w)
//	y := g.Conv("conv", x, nn.Same(3, 1, 1))
//	loss := nn.MSE(y, target)
//	names, grads, _ := g.Grad(loss)
//	m, _ := g.Compile()
//	// per step: nn.Let inputs, m.Run(), then opt.Update(params, names, values of grads)
package nn
