// Package benchmark is the benchmark command, run as `clockwork bench` (cmd/clockwork)
// or `go run ./experiments/benchmark`; the command's documentation is in
// experiments/benchmark.
package benchmark

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/simd"
	"github.com/clockwork-go/clockwork/internal/speed"
	"github.com/clockwork-go/clockwork/unet"
)

// Run runs the benchmark command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status.
func Run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	cli.ExitOnSignal() // the work does not stop at a safe point: a signal ends it
	return run(args, stdout, stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := cli.New("benchmark", "time U-Net training or sampling steps (RESULT line: the median seconds per step)",
		[]string{"benchmark -config mnist -batch 16 -steps 20 -mode train", "benchmark -config configs/mnist_attn32.json -mode sample -cpuprofile cpu.prof"}, stdout, stderr)
	fs := cmd.Flags
	config := fs.String("config", "mnist", "diffusers config.json, model directory or embedded config name")
	batch := fs.Int("batch", 16, "batch size")
	steps := fs.Int("steps", 20, "timed steps")
	warmup := fs.Int("warmup", 3, "untimed steps first")
	mode := fs.String("mode", "train", "train or sample")
	seed := fs.Uint64("seed", 0, "seed of the weights and inputs")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
	if code, ok := cmd.Parse(args, false); !ok {
		return code
	}
	c, err := unet.ConfigFrom(*config)
	if err != nil {
		return cmd.Fail(err)
	}
	opts := speed.Options{Config: c, Batch: *batch, Steps: *steps, Warmup: *warmup, Mode: speed.Mode(*mode), Seed: *seed}
	// Every flag is checked before the profile file is created (or
	// truncated).
	if err := opts.Validate(); err != nil {
		return cmd.Fail(err)
	}
	fmt.Fprintf(stdout, "config %s, batch %d, mode %s, gemm %s\n", *config, *batch, *mode, simd.Current())
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "benchmark:", err)
			return 1
		}
		opts.Profile = f
	}
	times, err := speed.Run(opts, stdout)
	if f, ok := opts.Profile.(*os.File); ok {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("CPU profile: %w", cerr)
		}
	}
	if err != nil {
		return cmd.Fail(err)
	}
	fmt.Fprintf(stdout, "RESULT %s_step_median_s %.6f\n", *mode, speed.Median(times))
	return 0
}
