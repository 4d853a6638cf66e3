// Package cli holds what the toolkit's commands share and its libraries do
// not: progress display. Libraries report progress through callbacks; a
// command turns them into a bar with an ETA on a terminal, and into a plain
// line every few percent when its output is a file or a pipe, so a
// redirected log stays readable.
package cli
