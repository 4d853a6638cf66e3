// Package simd holds the toolkit's CPU kernels: a single-precision matrix
// multiply (the one
// routine that convolutions, linear layers and attention spend their time in)
// and vector routines for normalisation and activations.
//
// It is a cache-blocked GEMM in the manner of BLIS (Van Zee & van de Geijn,
// "BLIS: A Framework for Rapidly Instantiating BLAS Functionality", ACM TOMS
// 2015, and Goto & van de Geijn, "Anatomy of High-Performance Matrix
// Multiplication", ACM TOMS 2008): operands are packed into panels that stay
// in cache, and an assembly micro-kernel computes an MR×NR tile of C with
// vector FMAs (8×32 with AVX-512, 6×16 with AVX2+FMA), chosen at run time from
// the CPU's features. Without either, gonum's pure-Go Sgemm does the work.
// Variants read one operand in place through row offsets instead of packing
// it (GemmIndirect, GemmIndirectA): a convolution's shifted image rows, an
// untransposed A. Products with one row of A (a convolution to one channel,
// a linear layer at batch 1) are matrix-vector products and stream B once
// through vector accumulators instead (gemv.go).
//
// The blocking sizes kc, mc and nc are derived at start-up from the caches
// of the machine (Linux's sysfs; a documented default elsewhere) for the
// micro-kernel's shape, by the analytical model of Low et al. ("Analytical
// Modeling Is Enough for High-Performance BLIS", ACM TOMS 2016) with a
// deeper kc, measured faster: B's micro-panel streams from L2 rather than
// staying in L1, so that C's tile makes fewer round trips (cache.go);
// CLOCKWORK_GEMM_BLOCKING overrides them. MeasurePeak measures the
// arithmetic ceiling a GEMM's rate is a share of: register-only FMAs at the
// clock a chain of dependent additions gives (peak.go).
//
// It also holds the transforms of the Winograd convolution F(2×2, 3×3)
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
// CVPR 2016; see wino.go: the input transform of 32-pixel-wide images
// takes 16 lanes where /proc/cpuinfo names a CPU with full-width 512-bit
// units, cpuinfo.go) and Parallel, which spreads work over a pool of
// persistent workers: a network's forward pass is a chain of short parallel
// ops, and waking parked threads for each would cost more than some ops.
package simd

// The assembly is generated: vec_amd64.s by gen_vec.go and kernels_amd64.s
// by gen_kernels.go. TestGeneratedAssembly fails when a committed file is
// not what its generator writes, and go vet's asmdecl check holds every
// TEXT symbol's frame and argument offsets to its Go declaration.
//go:generate go run gen_vec.go -o vec_amd64.s
//go:generate go run gen_kernels.go -o kernels_amd64.s
