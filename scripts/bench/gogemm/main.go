// Command gogemm is the Go side of scripts/bench/gemm_compare.sh, the twin
// of torch_gemm.py: for each size n it multiplies two n×n float32 matrices
// with the toolkit's GEMM, five times to warm up and then reps times, and
// prints the GFLOP/s of the median time, the statistic the PyTorch script
// prints. GOMAXPROCS sets the thread count.
//
//	go run ./scripts/bench/gogemm -reps 40 256 512 1024
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/clockwork-go/clockwork/internal/simd"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gogemm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reps := fs.Int("reps", 30, "timed multiplies per size")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *reps <= 0 || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "gogemm: want a positive -reps and at least one size")
		return 2
	}
	for _, s := range fs.Args() {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "gogemm: size %q is not a positive integer\n", s)
			return 2
		}
		r := rand.New(rand.NewPCG(1, uint64(n)))
		x, y, z := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
		for i := range x {
			x[i], y[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		mm := func() { simd.Sgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n) }
		for range 5 {
			mm()
		}
		ts := make([]time.Duration, *reps)
		for i := range ts {
			t := time.Now()
			mm()
			ts[i] = time.Since(t)
		}
		slices.Sort(ts)
		med := ts[len(ts)/2].Seconds()
		fmt.Fprintf(stdout, "n=%d threads=%d path=%s gflops=%.1f\n", n, runtime.GOMAXPROCS(0), simd.Current(), 2*float64(n)*float64(n)*float64(n)/med/1e9)
	}
	return 0
}
