// Command gogemm is the Go side of scripts/bench/gemm_compare.sh, the twin
// of torch_gemm.py. GOMAXPROCS sets the thread count.
//
// With sizes, it multiplies two n×n float32 matrices per size with the
// toolkit's GEMM, five times and for at least -warmup (300 ms) to warm up,
// then reps times, and prints the GFLOP/s of the median time, the
// statistic the PyTorch script prints (which warms up as long):
//
//	go run ./scripts/bench/gogemm -reps 40 256 512 1024
//
// With -record FILE, it records the products a model runs — one full step
// and one adaptor step of Clockwork (the shell, the core, the adaptor,
// attention) of the -config U-Net with a ResNet adaptor, at each -batch —
// and writes them as lines "batch kind m n k count", kind the entry point
// (simd.Shape: sgemm, each of the count one multiply spread over the cores,
// or serial, packed, indirect or indirectA, products that ran on one core
// each, count of them spread over the cores by the model's layers):
//
//	go run ./scripts/bench/gogemm -record shapes.txt -config mnist -batch 1,16,64,100
//
// With -shapes FILE, it times each line's products through the entry point
// the model used (all count of a line at once, the one-core kinds spread
// over the cores by simd.Parallel; sharing A and B, each writing its own C;
// an indirect operand's rows are dense rows read through offsets), the
// median of reps after three warm-ups (and -warmup), and prints the
// GFLOP/s of each line
// and the total time of each batch:
//
//	go run ./scripts/bench/gogemm -shapes shapes.txt -reps 5
//
// -v prints the CPU, its caches, the kernel and blocking in use, and the
// arithmetic ceiling of the path on GOMAXPROCS threads (measured:
// simd.MeasurePeak), and each line's share of it.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/internal/simd"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gogemm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reps := fs.Int("reps", 30, "timed runs per size or shape line")
	warmFor := fs.Duration("warmup", 300*time.Millisecond, "the least time each size or shape line runs before it is timed (besides its warm-up runs): a core that has idled runs slower until its clock has risen")
	verbose := fs.Bool("v", false, "print the machine, the blocking and the ceiling, and each line's share of it")
	recordTo := fs.String("record", "", "write the shapes of the `FILE` model's products (with -config and -batch)")
	config := fs.String("config", "mnist", "U-Net config (a name under configs/ or a config.json) for -record")
	batches := fs.String("batch", "1,16,64,100", "comma-separated batch sizes for -record")
	shapes := fs.String("shapes", "", "time the products listed in `FILE` (as -record writes it)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gogemm: "+format+"\n", a...)
		return 2
	}
	modes := 0
	for _, on := range []bool{*recordTo != "", *shapes != "", fs.NArg() > 0} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return usage("want exactly one of: sizes, -record FILE, -shapes FILE")
	}
	if *reps <= 0 {
		return usage("-reps %d: want a positive count", *reps)
	}
	if *warmFor < 0 {
		return usage("-warmup %v: want a duration of 0 or more", *warmFor)
	}
	if *recordTo != "" {
		bs, err := parseBatches(*batches)
		if err != nil {
			return usage("-batch: %v", err)
		}
		groups, err := recordModel(*config, bs)
		if err != nil {
			fmt.Fprintf(stderr, "gogemm: -record: %v\n", err)
			return 1
		}
		if err := writeGroups(*recordTo, groups); err != nil {
			fmt.Fprintf(stderr, "gogemm: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %d shape lines to %s\n", len(groups), *recordTo)
		return 0
	}
	var sizes []int
	for _, s := range fs.Args() {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return usage("size %q is not a positive integer", s)
		}
		sizes = append(sizes, n)
	}
	var groups []group
	if *shapes != "" {
		var err error
		if groups, err = readGroups(*shapes); err != nil {
			fmt.Fprintf(stderr, "gogemm: %v\n", err)
			return 1
		}
	}
	threads := runtime.GOMAXPROCS(0)
	share := func(float64) string { return "" }
	if *verbose {
		header(stdout)
		if pk, err := simd.MeasurePeak(simd.Current(), threads); err == nil {
			fmt.Fprintf(stdout, "# %v\n", pk)
			share = func(g float64) string { return fmt.Sprintf(" share=%.3f", g/pk.GFLOPS) }
		} else {
			fmt.Fprintf(stdout, "# ceiling: %v\n", err)
		}
	}
	for _, n := range sizes {
		g := timeGroup(group{M: n, N: n, K: n, Count: 1}, 5, *reps, *warmFor)
		fmt.Fprintf(stdout, "n=%d threads=%d path=%s gflops=%s%s\n", n, threads, simd.Current(), rate(g), share(g))
	}
	totals := map[int]float64{}
	for _, gr := range groups {
		g := timeGroup(gr, 3, *reps, *warmFor)
		totals[gr.Batch] += gr.flops() / g / 1e6 // ms
		fmt.Fprintf(stdout, "batch=%d kind=%s m=%d n=%d k=%d count=%d threads=%d path=%s gflops=%s%s\n",
			gr.Batch, gr.Kind, gr.M, gr.N, gr.K, gr.Count, threads, simd.Current(), rate(g), share(g))
	}
	for _, b := range sortedKeys(totals) {
		fmt.Fprintf(stdout, "batch=%d total threads=%d path=%s ms=%.3f\n", b, threads, simd.Current(), totals[b])
	}
	return 0
}

// rate formats a GFLOP/s figure: one decimal from 1 up, three significant
// digits below, so that a tiny product slowed by a busy machine never
// prints as 0.0.
func rate(g float64) string {
	if g >= 1 {
		return strconv.FormatFloat(g, 'f', 1, 64)
	}
	return strconv.FormatFloat(g, 'g', 3, 64)
}

// header prints the machine and the blocking.
func header(w io.Writer) {
	c := simd.MachineCaches()
	mr, nr := simd.KernelShape()
	fmt.Fprintf(w, "# cpu: %s; GOARCH %s; GOMAXPROCS %d\n", cpuName(), runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "# caches (%s): L1d %d KiB %d-way, L2 %d KiB %d-way, L3 %d KiB %d-way shared by %d\n", c.Source,
		c.L1D.Size>>10, c.L1D.Ways, c.L2.Size>>10, c.L2.Ways, c.L3.Size>>10, c.L3.Ways, c.L3.Sharers)
	fmt.Fprintf(w, "# path %s, kernel %d×%d, blocking %v (%s)\n", simd.Current(), mr, nr, simd.CurrentBlocking(), simd.CurrentBlocking().Source)
}

// cpuName reads the model name from /proc/cpuinfo ("unknown" elsewhere).
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// group is a line of a shapes file: Count products of M×N×K.
type group struct {
	Batch   int
	Kind    string // "sgemm" or "" for square sizes, else a simd.Shape kind
	M, N, K int
	Count   int
}

// kinds are the entry points a shapes file names (simd.Shape.Kind).
var kinds = []string{"sgemm", "serial", "packed", "indirect", "indirectA"}

func (g group) flops() float64 {
	return 2 * float64(g.M) * float64(g.N) * float64(g.K) * float64(g.Count)
}

// timeGroup returns the GFLOP/s of the median of reps runs of g's products
// (after warm warm-up runs, and warmFor at least).
func timeGroup(g group, warm, reps int, warmFor time.Duration) float64 {
	r := rand.New(rand.NewPCG(1, uint64(g.M*131+g.N*7+g.K)))
	a, b := make([]float32, g.M*g.K), make([]float32, g.K*g.N)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	mn := g.M * g.N
	c := make([]float32, g.Count*mn)
	// Row offsets of dense operands, for the indirect kinds.
	rowsAt := func(rows, ld int) []int {
		o := make([]int, rows)
		for i := range o {
			o[i] = i * ld
		}
		return o
	}
	var one func(c []float32)
	switch g.Kind {
	case "", "sgemm":
		once := func() {
			for i := 0; i < g.Count; i++ {
				simd.Sgemm(false, false, g.M, g.N, g.K, 1, a, g.K, b, g.N, 0, c[i*mn:(i+1)*mn], g.N)
			}
		}
		return timeRuns(once, g, warm, reps, warmFor)
	case "serial":
		one = func(c []float32) { simd.SgemmSerial(false, false, g.M, g.N, g.K, 1, a, g.K, b, g.N, 0, c, g.N) }
	case "packed":
		pa, pb := simd.DenseA(a, g.K, false, 1), simd.DenseB(b, g.N, false)
		one = func(c []float32) { simd.GemmPacked(g.M, g.N, g.K, pa, pb, 0, c, g.N) }
	case "indirect":
		var pa simd.PackedA
		pa.Pack(a, g.K, false, g.M, g.K, 1)
		boff := rowsAt(g.K, g.N)
		one = func(c []float32) { simd.GemmIndirect(&pa, b, boff, g.N, 0, c, g.N) }
	case "indirectA":
		pb := simd.PackB(make([]float32, simd.PackedBSize(g.K, g.N)), simd.DenseB(b, g.N, false), g.K, g.N)
		aoff := rowsAt(g.M, g.K)
		one = func(c []float32) { simd.GemmIndirectA(g.M, a, aoff, pb, 0, c, g.N) }
	default:
		panic("gogemm: unknown kind " + g.Kind)
	}
	once := func() {
		simd.Parallel(g.Count, 2*g.M*g.N*g.K, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				one(c[i*mn : (i+1)*mn])
			}
		})
	}
	return timeRuns(once, g, warm, reps, warmFor)
}

// timeRuns returns the GFLOP/s of g from the median of reps runs of once
// (after warm warm-up runs, and warmFor at least: a core that has idled
// runs slower until its clock has risen).
func timeRuns(once func(), g group, warm, reps int, warmFor time.Duration) float64 {
	// The garbage of earlier lines is collected now, not by a collector
	// competing with the timed runs.
	runtime.GC()
	for start, i := time.Now(), 0; i < warm || time.Since(start) < warmFor; i++ {
		once()
	}
	ts := make([]time.Duration, reps)
	for i := range ts {
		t := time.Now()
		once()
		ts[i] = time.Since(t)
	}
	slices.Sort(ts)
	return g.flops() / ts[len(ts)/2].Seconds() / 1e9
}

func parseBatches(s string) ([]int, error) {
	var bs []int
	for _, f := range strings.Split(s, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		bs = append(bs, b)
	}
	return bs, nil
}

func writeGroups(path string, gs []group) error {
	var b strings.Builder
	b.WriteString("# batch kind m n k count\n")
	for _, g := range gs {
		fmt.Fprintf(&b, "%d %s %d %d %d %d\n", g.Batch, g.Kind, g.M, g.N, g.K, g.Count)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func readGroups(path string) ([]group, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var gs []group
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		fields := strings.Fields(t)
		var v [6]int
		ok := len(fields) == 6 && slices.Contains(kinds, fields[1])
		for i := 0; ok && i < 6; i++ {
			if i == 1 {
				continue
			}
			v[i], err = strconv.Atoi(fields[i])
			ok = err == nil && v[i] > 0 && v[i] <= 1<<20
		}
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q: want \"batch kind m n k count\", kind one of %v, the rest positive integers", path, line, t, kinds)
		}
		g := group{Batch: v[0], Kind: fields[1], M: v[2], N: v[3], K: v[4], Count: v[5]}
		if float64(g.M)*float64(g.N)*float64(g.Count)+float64(g.K)*float64(g.M+g.N) > 1<<29 {
			return nil, fmt.Errorf("%s:%d: %q: operands of more than 2 GiB", path, line, t)
		}
		gs = append(gs, g)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(gs) == 0 {
		return nil, fmt.Errorf("%s: no shape lines", path)
	}
	return gs, nil
}

func sortedKeys(m map[int]float64) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
