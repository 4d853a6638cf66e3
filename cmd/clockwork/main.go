// Command clockwork is the toolkit in one installable command:
//
//	go install github.com/clockwork-go/clockwork/cmd/clockwork@latest
//	clockwork sample -steps 8 -n 16
//
// Each subcommand is one of the toolkit's commands, with the same flags
// and outputs as its `go run ./experiments/NAME` form:
//
//	clockwork train            train a diffusion U-Net (experiments/train)
//	clockwork sample           draw samples, plain or with Clockwork (experiments/sample)
//	clockwork edit             edit images by an instruction, or evaluate an editor (experiments/edit)
//	clockwork video            edit a video frame by frame, measured on toy videos (experiments/video)
//	clockwork segment          segmentation U-Nets on digit scenes with exact masks (experiments/segment)
//	clockwork eval             FID, KID, accuracy, prompt adherence (experiments/eval)
//	clockwork distill          distill a Clockwork adaptor (experiments/distill)
//	clockwork study clockwork  the Clockwork study (experiments/clockwork)
//	clockwork study perturb    the perturbation study (experiments/perturb)
//	clockwork predict          run a U-Net or text encoder on NumPy inputs (experiments/predict)
//	clockwork soup             average fine-tuned model directories' weights (experiments/soup)
//	clockwork bench            time training or sampling steps (experiments/benchmark)
//	clockwork classifier       train the MNIST classifier of the metrics (experiments/classifier)
//	clockwork version          the build's module version and revision
//
// `clockwork -h` lists them with an example each; `clockwork NAME -h`
// gives a subcommand's flags. The binary needs no Go toolchain at run
// time: the shipped models and MNIST are embedded.
package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/benchmark"
	"github.com/clockwork-go/clockwork/internal/cmd/classifier"
	"github.com/clockwork-go/clockwork/internal/cmd/clockwork"
	"github.com/clockwork-go/clockwork/internal/cmd/distill"
	"github.com/clockwork-go/clockwork/internal/cmd/edit"
	"github.com/clockwork-go/clockwork/internal/cmd/eval"
	"github.com/clockwork-go/clockwork/internal/cmd/perturb"
	"github.com/clockwork-go/clockwork/internal/cmd/predict"
	"github.com/clockwork-go/clockwork/internal/cmd/sample"
	"github.com/clockwork-go/clockwork/internal/cmd/segment"
	"github.com/clockwork-go/clockwork/internal/cmd/soup"
	"github.com/clockwork-go/clockwork/internal/cmd/train"
	"github.com/clockwork-go/clockwork/internal/cmd/video"
)

// subcommand is one of clockwork's commands.
type subcommand struct {
	name, synopsis, example string
	run                     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var subcommands = []subcommand{
	{"train", "train a diffusion U-Net (resumable; a diffusers model directory at the end)", "clockwork train -config mnist_text -data captions -out runs/text", train.Run},
	{"sample", "draw samples of a model, plain or with Clockwork, to .npz and PNG", "clockwork sample -steps 8 -adaptor identity -clock 2 -n 16", sample.Run},
	{"edit", "edit images by an instruction (InstructPix2Pix), or evaluate an editor on held-out edits", `clockwork edit -input samples.npz -instruction "make it thicker" -output edited.npz`, edit.Run},
	{"video", "edit a video frame by frame; on a held-out toy video, measured against its true edit", "clockwork video -model DIR", video.Run},
	{"segment", "train, evaluate or run a segmentation U-Net (unet, attention, residual) on digit scenes", "clockwork segment -predict -input scenes.npz -output masks.npz", segment.Run},
	{"eval", "measure samples: FID, KID, class accuracy, prompt adherence, L2 to the teacher", "clockwork eval -steps 8 -n 1000", eval.Run},
	{"distill", "distill a Clockwork adaptor from a teacher's trajectories", "clockwork distill -kind resnet -steps 8", distill.Run},
	{"study clockwork", "the Clockwork study: every claim of the paper tested, with verdicts", "clockwork study clockwork -out runs/clockwork", clockwork.Run},
	{"study perturb", "the perturbation study of the paper's Section 3", "clockwork study perturb -out runs/perturb", perturb.Run},
	{"predict", "run a U-Net or a text encoder directory on NumPy inputs", "clockwork predict -model DIR -input in.npz -output out.npz", predict.Run},
	{"soup", "average the weights of model directories fine-tuned from one parent (a model soup)", "clockwork soup -out runs/soup runs/a/model runs/b/model", soup.Run},
	{"bench", "time U-Net training or sampling steps", "clockwork bench -config mnist -mode sample", benchmark.Run},
	{"classifier", "train the MNIST classifier behind FID-MNIST and accuracy", "clockwork classifier -out runs/classifier", classifier.Run},
}

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version())
		return 0
	}
	for _, s := range subcommands {
		words := strings.Fields(s.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == s.name {
			return s.run(ctx, args[len(words):], stdout, stderr)
		}
	}
	what := args[0]
	if what == "study" && len(args) > 1 {
		what += " " + args[1]
	}
	fmt.Fprintf(stderr, "clockwork: unknown command %q (clockwork -h lists them)\n", what)
	return 2
}

// usage lists the subcommands with an example each.
func usage(w io.Writer) {
	fmt.Fprintf(w, "clockwork: efficient diffusion, Clockwork and its studies (%s)\n\nUsage: clockwork COMMAND [flags]   (clockwork COMMAND -h for its flags)\n\n", version())
	for _, s := range subcommands {
		fmt.Fprintf(w, "  %-16s %s\n  %-16s e.g. %s\n", s.name, s.synopsis, "", s.example)
	}
	fmt.Fprintf(w, "  %-16s %s\n", "version", "the build's module version and revision")
}

// version describes the build: module version, VCS revision and Go.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "version unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				v += "+dirty"
			}
		}
	}
	return v + ", " + bi.GoVersion
}
