package sysmem

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrTooLarge is wrapped by Check's error.
var ErrTooLarge = errors.New("does not fit in memory")

// Available returns the bytes a new allocation can take: MemAvailable of
// /proc/meminfo (free memory plus what the kernel can reclaim), lowered to
// what a cgroup memory limit leaves, or, where /proc/meminfo cannot be read
// (macOS, Windows), the machine's memory as the system reports it
// (totalMemory: sysinfo, sysctl hw.memsize, GlobalMemoryStatusEx).
func Available() uint64 {
	avail, ok := memAvailable()
	if !ok {
		avail = totalMemory()
	}
	if left, ok := cgroupLeft(); ok && (avail == 0 || left < avail) {
		avail = left
	}
	if avail == 0 {
		avail = 1 << 62 // unknown: refuse nothing
	}
	return avail
}

func memAvailable() (uint64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

// cgroupLeft returns what a cgroup v2 memory limit leaves to allocate.
func cgroupLeft() (uint64, bool) {
	read := func(name string) (uint64, bool) {
		b, err := os.ReadFile("/sys/fs/cgroup/" + name)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return v, err == nil // "max": no limit
	}
	limit, ok := read("memory.max")
	if !ok {
		return 0, false
	}
	cur, _ := read("memory.current")
	if cur >= limit {
		return 0, true
	}
	return limit - cur, true
}

// Check returns nil when need bytes fit in the memory available, and else an
// error wrapping ErrTooLarge that says what needs them (what names the flag
// or key that causes it: "-n 2000000000 (2000000000 samples of 1×32×32)"),
// the estimate and what is available. Estimates are float64 so that sizes
// far beyond any machine do not overflow.
func Check(need float64, what string) error {
	if avail := float64(Available()); need > avail {
		return fmt.Errorf("%s needs about %s, more than the %s of memory available: %w", what, Format(need), Format(avail), ErrTooLarge)
	}
	return nil
}

// Format writes a byte count with a unit: "512 B", "3.2 MB", "1.5 TB".
func Format(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	i := 0
	for b >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.3g %s", b, units[i])
}
