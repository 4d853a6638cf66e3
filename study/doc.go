// Package study runs a study: a list of independent cells (a perturbation at
// one tap from one step, a Clockwork setting), each evaluated once, its
// result appended to results.jsonl in the study's directory as soon as it
// finishes.
//
// A study is resumable and shardable, the two things a long sweep on a
// shared machine or a batch system needs:
//
//   - a rerun skips the cells already in results.jsonl, so an interrupted
//     study continues where it stopped (a line cut short by a crash is
//     dropped);
//   - Shard{Index: i, Count: n} runs only the cells i, i+n, i+2n, …, so the
//     shards of a Slurm job array or a Kubernetes indexed Job cover the
//     study between them (the index comes from a flag: nothing here knows a
//     scheduler), and Merge joins their directories into one.
//
// study.json records the study's name and the settings that define it
// (Config); running into, or merging, a directory of another study or of
// other settings is an error. One process writes a study directory at a
// time (an advisory lock, fsutil.Lock).
package study
