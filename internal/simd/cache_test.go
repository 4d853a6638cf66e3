package simd

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// writeCache writes one sysfs cache index directory.
func writeCache(t *testing.T, dir, index string, files map[string]string) {
	t.Helper()
	d := filepath.Join(dir, index)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadCaches reads a Zen 4 core's caches from a sysfs tree (its
// instruction cache skipped), and falls back where there is none.
func TestReadCaches(t *testing.T) {
	dir := t.TempDir()
	level := func(l, typ, size, ways, shared string) map[string]string {
		return map[string]string{"level": l, "type": typ, "size": size, "ways_of_associativity": ways,
			"coherency_line_size": "64", "shared_cpu_list": shared}
	}
	writeCache(t, dir, "index0", level("1", "Data", "32K", "8", "0"))
	writeCache(t, dir, "index1", level("1", "Instruction", "16K", "4", "0"))
	writeCache(t, dir, "index2", level("2", "Unified", "1024K", "8", "0"))
	writeCache(t, dir, "index3", level("3", "Unified", "32768K", "16", "0-7,16-23"))
	c := readCaches(dir)
	want := Caches{
		L1D:    CacheLevel{Size: 32 << 10, Ways: 8, Line: 64, Sharers: 1},
		L2:     CacheLevel{Size: 1 << 20, Ways: 8, Line: 64, Sharers: 1},
		L3:     CacheLevel{Size: 32 << 20, Ways: 16, Line: 64, Sharers: 16},
		Source: "sysfs",
	}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if c := readCaches(filepath.Join(dir, "none")); c != fallbackCaches {
		t.Errorf("no sysfs: got %+v, want the fallback", c)
	}
	// A malformed level is skipped, the others kept.
	bad := t.TempDir()
	writeCache(t, bad, "index0", level("1", "Data", "lots", "8", "0"))
	writeCache(t, bad, "index2", level("2", "Unified", "2048K", "16", "0"))
	c = readCaches(bad)
	if c.L1D != fallbackCaches.L1D || c.L2.Size != 2<<20 || c.L2.Ways != 16 {
		t.Errorf("malformed L1d: got %+v", c)
	}
}

// TestDeriveBlocking checks the analytical model's sizes against values
// worked by hand.
func TestDeriveBlocking(t *testing.T) {
	zen4 := Caches{
		L1D: CacheLevel{Size: 32 << 10, Ways: 8, Line: 64, Sharers: 1},
		L2:  CacheLevel{Size: 1 << 20, Ways: 8, Line: 64, Sharers: 1},
		L3:  CacheLevel{Size: 32 << 20, Ways: 16, Line: 64, Sharers: 2},
	}
	skx := Caches{
		L1D: CacheLevel{Size: 48 << 10, Ways: 12, Line: 64, Sharers: 1},
		L2:  CacheLevel{Size: 2 << 20, Ways: 16, Line: 64, Sharers: 1},
		L3:  CacheLevel{Size: 105 << 20, Ways: 15, Line: 64, Sharers: 64},
	}
	for _, tc := range []struct {
		name   string
		c      Caches
		mr, nr int
		want   Blocking
	}{
		// 8×32 on a 1 MiB 8-way L2 (128 KiB a way): kc = 131072/(32·4)
		// = 1024; a B micro-panel (128 KiB) takes one way, so A may take
		// (8 − 1 − 2)·128 KiB/(1024·4) = 160 rows: mc = 8·8 = 64; a core's
		// L3 share is 16 MiB, 1 MiB a way, all but one for B: nc = 15·1
		// MiB/4096 = 3840.
		{"zen4 avx512", zen4, 8, 32, Blocking{KC: 1024, MC: 64, NC: 3840}},
		// 6×16: kc = 131072/64 = 2048, at most 1024; mc = 8·6 = 48 (room
		// for 160); nc = 3840.
		{"zen4 avx2", zen4, 6, 16, Blocking{KC: 1024, MC: 48, NC: 3840}},
		// 2 MiB 16-way L2, 128 KiB a way: kc = 1024, mc = 64 (room for
		// 13·128 KiB/4096 = 416); 105 MiB 15-way L3 over 64 CPUs, 112 KiB
		// a way each: nc = 14·112 KiB/4096 = 392 → 384.
		{"xeon avx512", skx, 8, 32, Blocking{KC: 1024, MC: 64, NC: 384}},
		// The fallback's 256 KiB 4-way L2 (64 KiB a way): a B micro-panel
		// in a way would allow kc = 65536/128 = 512, but eight 8-row
		// micro-panels of A must fit the one way left: kc = 65536/256 =
		// 256, mc = 65536/1024 = 64; 8 MiB 16-way L3 over 8 CPUs, 64 KiB
		// a way each: nc = 15·64 KiB/1024 = 960.
		{"fallback avx512", fallbackCaches, 8, 32, Blocking{KC: 256, MC: 64, NC: 960}},
		// 6×16 there: kc = 65536/192 = 341, mc = 65536/1364 = 48; nc =
		// 15·64 KiB/1364 = 720.
		{"fallback avx2", fallbackCaches, 6, 16, Blocking{KC: 341, MC: 48, NC: 720}},
	} {
		got := deriveBlocking(tc.c, tc.mr, tc.nr)
		tc.want.Source = "caches"
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseBlocking(t *testing.T) {
	def := Blocking{KC: 128, MC: 96, NC: 4096, Source: "caches"}
	b, err := parseBlocking("kc=256, nc=1024", def)
	if err != nil || b != (Blocking{KC: 256, MC: 96, NC: 1024, Source: "CLOCKWORK_GEMM_BLOCKING"}) {
		t.Errorf("got %+v, %v", b, err)
	}
	for _, s := range []string{"kc", "kc=0", "kc=-3", "xc=5", "kc=1e3", "", "kc=1048576", "nc=99999999"} {
		if b, err := parseBlocking(s, def); err == nil || b != def {
			t.Errorf("%q: got %+v, %v; want an error and the default", s, b, err)
		}
	}
}

// TestBlockingSizes runs products under blockings that split every loop
// (kc, mc and nc smaller than the operands, and not multiples of the
// kernel's tile) on every path, against the float64 reference.
func TestBlockingSizes(t *testing.T) {
	saved := blk
	defer func() { blk = saved }()
	for _, p := range Available() {
		Use(p)
		for _, b := range []Blocking{{KC: 37, MC: 13, NC: 50}, {KC: 1, MC: 1, NC: 1}, {KC: 512, MC: 4096, NC: 1 << 16}} {
			mr, nr := KernelShape()
			blk = b.fit(mr, nr)
			testProducts(t, fmt.Sprintf("%s %v", p, b), true)
		}
	}
	Use(Available()[0])
}

// TestBlockingEnv: CLOCKWORK_GEMM_BLOCKING (read at start-up into
// blockingEnv) sets the blocking of every path, fitted to its tile; a
// malformed value leaves the derived one.
func TestBlockingEnv(t *testing.T) {
	saved := blockingEnv
	defer func() { blockingEnv = saved; Use(Available()[0]) }()
	for _, p := range Available() {
		blockingEnv = "kc=100,mc=20"
		Use(p)
		mr, nr := KernelShape()
		got := CurrentBlocking()
		if got.Source != "CLOCKWORK_GEMM_BLOCKING" || got.KC != 100 || got.MC != roundUp(20, mr) || got.NC%nr != 0 {
			t.Errorf("%s: %+v", p, got)
		}
		blockingEnv = "kc=zero"
		Use(p)
		if got := CurrentBlocking(); got != deriveBlocking(caches, mr, nr) {
			t.Errorf("%s malformed: %+v, want the derived %+v", p, got, deriveBlocking(caches, mr, nr))
		}
	}
}
