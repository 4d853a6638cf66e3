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
// Checkpoints are verified when loaded (the state's step against the
// directory's name, every array's presence and shape; each trainer checks
// its state's fields); Damaged turns a failure into a message naming the
// file, the problem and the newest earlier complete checkpoint. Find picks
// the checkpoint a resume continues from, adopting the newest complete one
// when the latest file is lost (a run killed between the two renames) or
// names an incomplete checkpoint. A Loop holds its run directory's lock
// (fsutil.Lock) while it runs, so a second writer is refused with the
// holder's process id; a lock left by a dead process is free.
//
// A Loop with an empty Dir keeps nothing on disk (the classifier's
// three-epoch run, say).
package train
