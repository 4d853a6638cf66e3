// Package train is the training loop every trainer of the toolkit shares:
// the diffusion U-Net's (package diffusion), the MNIST classifier's (package
// metrics) and the Clockwork adaptor's (package distill).
//
// It holds what those loops have in common and nothing model-specific:
//
//   - LR, the learning-rate schedule (linear warm-up, then constant or
//     cosine decay to zero at the last step, as in nanoGPT's get_lr);
//   - Checkpoint, a set of named parts (parameter stores, optimiser moments,
//     a JSON state) written into a temporary directory, synced and renamed
//     into place, with a "latest" file replaced atomically, so a run killed
//     at any moment resumes from its last complete checkpoint, bit for bit;
//   - Loop, which runs steps, writes metrics.jsonl (trimmed on resume to the
//     checkpoint's step), calls periodic hooks, checkpoints, stops cleanly on
//     a cancelled context and reports progress through a callback (a library
//     draws no progress bars: commands do).
//
// A Loop with an empty Dir keeps nothing on disk (the classifier's
// three-epoch run, say).
package train
