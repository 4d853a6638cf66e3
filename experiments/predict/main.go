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
	"context"
	"fmt"
	"io"

	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/unet"
)

func main() {
	cli.Main(func(_ context.Context, args []string, o, e io.Writer) int { return run(args, o, e) })
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := cli.New("predict", "run a model directory on the inputs of an .npz file (parity checks against diffusers)",
		[]string{"predict -model DIR -input IN.npz -output OUT.npz"}, stdout, stderr)
	fs := cmd.Flags
	model := fs.String("model", "", "model directory (config.json + model.npz)")
	input := fs.String("input", "", "input .npz (sample, timestep, class_labels)")
	output := fs.String("output", "", "output .npz to write (output)")
	if code, ok := cmd.Parse(args, true); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return cmd.Usage("unexpected argument %q (every input is a flag: -model, -input, -output)", fs.Arg(0))
	}
	if *model == "" || *input == "" || *output == "" {
		return cmd.Usage("-model, -input and -output are required")
	}
	if err := fsutil.CheckOutFile("-output", *output); err != nil {
		return cmd.Usage("%v", err)
	}
	m, err := unet.Load(*model)
	if err != nil {
		return cmd.Fail(err)
	}
	if err := m.PredictNPZ(*input, *output); err != nil {
		return cmd.Fail(err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", *output)
	return 0
}
