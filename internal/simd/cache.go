package simd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CacheLevel describes one data cache level as one core sees it.
type CacheLevel struct {
	Size    int // bytes
	Ways    int // associativity
	Line    int // bytes per line
	Sharers int // logical CPUs sharing it
}

// sets returns the number of sets (Size / (Ways·Line)).
func (c CacheLevel) sets() int { return c.Size / (c.Ways * c.Line) }

// Caches are the data caches that the blocking sizes derive from.
type Caches struct {
	L1D, L2, L3 CacheLevel
	// Source says where the sizes came from: "sysfs" (Linux's
	// /sys/devices/system/cpu/cpu0/cache) or "default" (sysfs unreadable,
	// as on macOS and Windows: fallbackCaches).
	Source string
}

// fallbackCaches are assumed where the caches cannot be read (macOS,
// Windows): a 32 KiB 8-way L1d, a 256 KiB 4-way L2 and an 8 MiB 16-way L3
// shared by 8 CPUs, those of Intel's Skylake-derived client cores and no
// larger than those of the x86 cores since, so that blocks derived from
// them fit.
var fallbackCaches = Caches{
	L1D:    CacheLevel{Size: 32 << 10, Ways: 8, Line: 64, Sharers: 1},
	L2:     CacheLevel{Size: 256 << 10, Ways: 4, Line: 64, Sharers: 1},
	L3:     CacheLevel{Size: 8 << 20, Ways: 16, Line: 64, Sharers: 8},
	Source: "default",
}

// sysCacheDir is where Linux describes CPU 0's caches.
var sysCacheDir = "/sys/devices/system/cpu/cpu0/cache"

// readCaches reads the data caches of CPU 0 from sysfs (each
// index*/ directory gives level, type, size, ways_of_associativity,
// coherency_line_size and shared_cpu_list), falling back level by level to
// fallbackCaches.
func readCaches(dir string) Caches {
	c := fallbackCaches
	dirs, _ := filepath.Glob(filepath.Join(dir, "index*"))
	found := 0
	for _, d := range dirs {
		read := func(name string) string {
			b, err := os.ReadFile(filepath.Join(d, name))
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(b))
		}
		typ := read("type")
		if typ != "Data" && typ != "Unified" {
			continue
		}
		size, okS := parseSize(read("size"))
		ways, errW := strconv.Atoi(read("ways_of_associativity"))
		line, errL := strconv.Atoi(read("coherency_line_size"))
		if !okS || errW != nil || errL != nil || ways <= 0 || line <= 0 || size < ways*line {
			continue
		}
		l := CacheLevel{Size: size, Ways: ways, Line: line, Sharers: countCPUs(read("shared_cpu_list"))}
		switch read("level") {
		case "1":
			c.L1D = l
		case "2":
			c.L2 = l
		case "3":
			c.L3 = l
		default:
			continue
		}
		found++
	}
	if found > 0 {
		c.Source = "sysfs"
	}
	return c
}

// parseSize reads a sysfs cache size such as "32K" or "1024K".
func parseSize(s string) (int, bool) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n * mult, true
}

// countCPUs counts the CPUs of a list such as "0-3,8,10-11" (1 if it
// cannot be read).
func countCPUs(list string) int {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 1
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 1
			}
		}
		n += b - a + 1
	}
	return max(n, 1)
}

// Blocking holds the cache blocking of the packed GEMM: the micro-kernel
// runs KC steps on an MR×NR tile of C held in registers, reading an MR×KC
// micro-panel of an MC×KC block of A and a KC×NR micro-panel of B, both
// from L2, and the KC×NC block of B stays in (a core's share of) L3.
type Blocking struct {
	KC, MC, NC int
	// Source says how they were chosen: "caches" (derived) or
	// "CLOCKWORK_GEMM_BLOCKING" (set by that variable).
	Source string
}

// String formats the blocking as CLOCKWORK_GEMM_BLOCKING reads it.
func (b Blocking) String() string { return fmt.Sprintf("kc=%d,mc=%d,nc=%d", b.KC, b.MC, b.NC) }

// deriveBlocking chooses the blocking of an mr×nr micro-kernel for caches
// c, with 4-byte floats. It starts from the analytical model of Low, Igual,
// Smith and Quintana-Ortí ("Analytical Modeling Is Enough for
// High-Performance BLIS", ACM TOMS 43(2), 2016), with one change, measured:
//
//   - kc (deep): BLIS's model keeps B's kc×nr micro-panel in L1, which
//     bounds kc by L1 (128 for 8×32 and 170 for 6×16 on a Zen 4 core's
//     32 KiB 8-way L1), and the C tile then makes a round trip through the
//     caches every kc steps; where C is larger than L2 that trip goes to
//     L3. On the Zen 4 core, streaming B's micro-panel from L2 instead and
//     running up to 1024 steps per call was 1–6% faster at n = 512 and
//     1024, on both vector paths, one and two threads (docs/speed.md). So
//     kc is the depth at which B's micro-panel fills one way of L2, kc =
//     N_L2·L_L2/(nr·4) (N sets of L-byte lines per way), the L2 keeping it
//     beside the block of A; less where L2 would not then hold eight
//     micro-panels of A beside two of B and a way for C: kc ≤
//     (W_L2 − 3)·N_L2·L_L2/(8·mr·4).
//   - mc: eight micro-panels of A (mc = 8·mr), so that each trip of a B
//     micro-panel from L3 serves eight micro-kernel calls, and the A block
//     stays a small share of L2 (on the Zen 4 core 8·mr was the fastest
//     or tied from 4·mr to 32·mr at kc = 1024); at most what L2 holds
//     beside two B micro-panels and a way for C:
//     (W_L2 − 1 − 2·C_B2)·N_L2·L_L2/(kc·4), C_B2 the ways a B micro-panel
//     takes.
//   - L3 (BLIS's): the kc×nc block of B takes a core's share of L3 but one
//     way: nc = (W_L3 − 1)·N_L3·L_L3/(sharers·kc·4), a multiple of nr.
//     (The paper also leaves room for the A block, for an inclusive L3;
//     the L3 of recent x86 cores is not inclusive, and A stays in the
//     private L2.)
//
// kc is at least 32 (a kernel call's fixed cost needs some depth) and
// at most 1024; mc at least mr; nc at least 8·nr.
func deriveBlocking(c Caches, mr, nr int) Blocking {
	const s = 4
	w2 := c.L2.sets() * c.L2.Line // bytes per way
	kc := w2 / (nr * s)
	// Eight micro-panels of A beside two of B, each in a way, and a way for C.
	kc = min(kc, max(c.L2.Ways-3, 1)*w2/(8*mr*s))
	kc = min(max(kc, 32), 1024)

	cb2 := (kc*nr*s + w2 - 1) / w2
	room := max(c.L2.Ways-1-2*cb2, 1) * w2 / (kc * s)
	mc := max(min(8*mr, room/mr*mr), mr)

	w3 := c.L3.sets() * c.L3.Line / max(c.L3.Sharers, 1)
	nc := max(c.L3.Ways-1, 1) * w3 / (kc * s)
	nc = max(nc/nr*nr, 8*nr)
	return Blocking{KC: kc, MC: mc, NC: nc, Source: "caches"}
}

// fit rounds MC up to a multiple of mr and NC to one of nr, as the loops
// over row and column blocks need.
func (b Blocking) fit(mr, nr int) Blocking {
	b.MC = roundUp(max(b.MC, 1), mr)
	b.NC = roundUp(max(b.NC, 1), nr)
	return b
}

// blockingLimits bound CLOCKWORK_GEMM_BLOCKING's sizes, so that the
// packing buffers (MC·KC and NC·KC floats) stay below a gigabyte.
var blockingLimits = map[string]int{"kc": 2048, "mc": 8192, "nc": 1 << 16}

// parseBlocking reads CLOCKWORK_GEMM_BLOCKING ("kc=128,mc=96,nc=4096"; any
// subset, the rest kept from def).
func parseBlocking(s string, def Blocking) (Blocking, error) {
	b := def
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n <= 0 {
			return def, fmt.Errorf("CLOCKWORK_GEMM_BLOCKING: %q is not name=positive integer (want e.g. kc=128,mc=96,nc=4096)", kv)
		}
		if lim, known := blockingLimits[k]; known && n > lim {
			return def, fmt.Errorf("CLOCKWORK_GEMM_BLOCKING: %s=%d is above %d", k, n, lim)
		}
		switch k {
		case "kc":
			b.KC = n
		case "mc":
			b.MC = n
		case "nc":
			b.NC = n
		default:
			return def, fmt.Errorf("CLOCKWORK_GEMM_BLOCKING: unknown size %q (have kc, mc, nc)", k)
		}
	}
	b.Source = "CLOCKWORK_GEMM_BLOCKING"
	return b, nil
}
