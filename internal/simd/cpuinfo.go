package simd

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// procCPUInfo is where Linux names the CPU's vendor and family.
var procCPUInfo = "/proc/cpuinfo"

// fullWidth512 reports whether the CPU described by the cpuinfo file at
// path runs 512-bit vector operations at full width rather than as two
// 256-bit halves: Intel's AVX-512 cores and AMD's from Zen 5 (family 26)
// on, where Zen 4 (family 25) splits them. Where the file cannot be read
// or names neither (macOS, Windows, another vendor) it reports false, the
// choice that costs nothing on a CPU that splits.
func fullWidth512(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	vendor, family := "", -1
	sc := bufio.NewScanner(f)
	for sc.Scan() && (vendor == "" || family < 0) {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "vendor_id":
			vendor = strings.TrimSpace(val)
		case "cpu family":
			if n, err := strconv.Atoi(strings.TrimSpace(val)); err == nil {
				family = n
			}
		}
	}
	switch vendor {
	case "GenuineIntel":
		return true
	case "AuthenticAMD":
		return family >= 26
	}
	return false
}
