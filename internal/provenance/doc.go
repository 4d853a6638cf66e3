// Package provenance records what made a run: the command line, the code's
// revision (from the build's VCS stamp, or from git where the binary has
// none, as under go run), whether the tree had uncommitted changes, the Go
// version, the platform, the machine's CPU and cores, and the start and end
// times. Run directories keep one record per invocation in
// provenance.json, so that a figure traces back to what made it.
package provenance
