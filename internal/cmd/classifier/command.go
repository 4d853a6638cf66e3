// Package classifier is the classifier command, run as `clockwork classifier` (cmd/clockwork)
// or `go run ./experiments/classifier`; the command's documentation is in
// experiments/classifier.
package classifier

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/metrics"
)

// Run runs the classifier command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status.
func Run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	cli.ExitOnSignal() // the work does not stop at a safe point: a signal ends it
	return run(args, stdout, stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := cli.New("classifier", "retrain the MNIST classifier whose features FID-MNIST, KID and the class accuracy use",
		[]string{"classifier -out /tmp/classifier.npz"}, stdout, stderr)
	fs := cmd.Flags
	d := metrics.DefaultClassifierTrainConfig()
	out := fs.String("out", metrics.ShippedClassifierFile, "weights file to write")
	data := fs.String("data", "mnist", "MNIST source: mnist or mnist:DIR")
	fs.IntVar(&d.Epochs, "epochs", d.Epochs, "epochs")
	fs.IntVar(&d.Batch, "batch", d.Batch, "batch size")
	fs.Float64Var(&d.LR, "lr", d.LR, "peak learning rate")
	fs.Uint64Var(&d.Seed, "seed", d.Seed, "seed")
	if code, ok := cmd.Parse(args, false); !ok {
		return code
	}
	fail := cmd.Fail
	if d.Epochs <= 0 || d.Batch <= 0 || !(d.LR > 0) || math.IsInf(d.LR, 0) {
		return fail(fmt.Errorf("-epochs %d, -batch %d and -lr %g must be positive", d.Epochs, d.Batch, d.LR))
	}
	if err := fsutil.CheckOutFile("-out", *out); err != nil {
		return fail(err)
	}
	train, err := datasets.Open(*data, "train")
	if err != nil {
		return fail(err)
	}
	test, err := datasets.Open(*data, "test")
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	c, err := metrics.TrainClassifier(train, d, stdout)
	if err != nil {
		return fail(err)
	}
	x := make([]float32, test.Len()*32*32)
	idx := make([]int, test.Len())
	for i := range idx {
		idx[i] = i
	}
	test.Batch(idx, x, nil)
	acc, err := c.Accuracy(x, test.Labels)
	if err != nil {
		return fail(err)
	}
	if err := c.Save(*out); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "test accuracy %.4f (%d images); trained in %s; wrote %s\n", acc, test.Len(), time.Since(start).Round(time.Second), *out)
	return 0
}
