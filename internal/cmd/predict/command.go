// Package predict is the predict command, run as `clockwork predict` (cmd/clockwork)
// or `go run ./experiments/predict`; the command's documentation is in
// experiments/predict.
package predict

import (
	"context"
	"fmt"
	"io"

	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// Run runs the predict command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status.
func Run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	cli.ExitOnSignal() // the work does not stop at a safe point: a signal ends it
	return run(args, stdout, stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := cli.New("predict", "run a model directory on the inputs of an .npz file (parity checks against diffusers)",
		[]string{"predict -model DIR -input IN.npz -output OUT.npz"}, stdout, stderr)
	fs := cmd.Flags
	model := fs.String("model", "", "model directory (config.json and weights: safetensors, .npz or .bin; or a diffusers pipeline): a U-Net or a text encoder")
	input := fs.String("input", "", "input .npz (sample, timestep, class_labels, encoder_hidden_states, encoder_attention_mask; or input_ids, attention_mask)")
	output := fs.String("output", "", "output .npz to write (output; or last_hidden_state, pooler_output)")
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
	if textenc.IsDir(*model) {
		t, err := textenc.Load(*model)
		if err == nil {
			err = t.PredictNPZ(*input, *output)
		}
		if err != nil {
			return cmd.Fail(err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", *output)
		return 0
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
