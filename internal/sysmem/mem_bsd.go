//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package sysmem

import "golang.org/x/sys/unix"

// totalMemory is the machine's physical memory (sysctl hw.memsize on
// macOS, hw.physmem on the other BSDs); 0 when unknown.
func totalMemory() uint64 {
	for _, name := range []string{"hw.memsize", "hw.physmem"} {
		if v, err := unix.SysctlUint64(name); err == nil && v > 0 {
			return v
		}
	}
	return 0
}
