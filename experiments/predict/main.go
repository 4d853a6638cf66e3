// Command predict runs a UNet2DModel directory on the inputs of an .npz file
// and writes its output to another, for parity checks against diffusers:
//
//	go run ./experiments/predict -model DIR -input IN.npz -output OUT.npz
//
// IN.npz holds "sample" (N,C,H,W float32), "timestep" (N, int64) and, for
// class-conditional models, "class_labels" (N, int64); OUT.npz receives
// "output" (N,C_out,H,W float32).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/unet"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model directory (config.json + model.npz)")
	input := fs.String("input", "", "input .npz (sample, timestep, class_labels)")
	output := fs.String("output", "", "output .npz to write (output)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "predict: unexpected argument %q (every input is a flag: -model, -input, -output)\n", fs.Arg(0))
		return 2
	}
	if *model == "" || *input == "" || *output == "" {
		fmt.Fprintln(stderr, "predict: -model, -input and -output are required")
		fs.Usage()
		return 2
	}
	if err := fsutil.CheckOutFile("-output", *output); err != nil {
		fmt.Fprintln(stderr, "predict:", err)
		return 2
	}
	m, err := unet.Load(*model)
	if err != nil {
		fmt.Fprintln(stderr, "predict:", err)
		return 1
	}
	if err := m.PredictNPZ(*input, *output); err != nil {
		fmt.Fprintln(stderr, "predict:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\n", *output)
	return 0
}
