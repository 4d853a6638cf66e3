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
		// 8×32 on 32 KiB 8-way (4 KiB a way): C_A = floor(7·8/40) = 1,
		// kc = 4096/(8·4) = 128; the B panel (16 KiB) takes 1 of the L2's
		// 128 KiB ways: mc = 6·128 KiB/(128·4) = 1536; a core's L3 share
		// is 16 MiB, 1 MiB a way, all but one for B: nc = 15·1 MiB/512
		// = 30720.
		{"zen4 avx512", zen4, 8, 32, Blocking{KC: 128, MC: 1536, NC: 30720}},
		// 6×16: C_A = floor(7·6/22) = 1, kc = floor(4096/24) = 170;
		// mc = floor(6·131072/680) = 1156 → 1152; nc = floor(15·1 MiB
		// /680) = 23130 → 23120.
		{"zen4 avx2", zen4, 6, 16, Blocking{KC: 170, MC: 1152, NC: 23120}},
		// 48 KiB 12-way: C_A = floor(11·8/40) = 2, kc = 2·4096/32 = 256;
		// 2 MiB 16-way L2, 128 KiB a way, the B panel takes 1: mc =
		// 14·128 KiB/1024 = 1792; 105 MiB 15-way L3 over 64 CPUs, 112 KiB
		// a way each: nc = 14·112 KiB/1024 = 1568.
		{"xeon avx512", skx, 8, 32, Blocking{KC: 256, MC: 1792, NC: 1568}},
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
