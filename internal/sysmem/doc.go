// Package sysmem says how much memory a process can still allocate, so that
// commands can refuse sizes that cannot fit (a batch, a sample count, a
// channel width) with a message naming the flag or key, before they
// allocate anything, instead of dying with "out of memory" and a stack
// trace.
package sysmem
