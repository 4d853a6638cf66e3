// Command video edits a video frame by frame with an instruction-guided
// editor (package edits): -input an .npz whose frames are (T, C, H, W) in
// [−1, 1], or an animated GIF; -output an .npz of the edited frames, with
// an animated GIF (source, edit side by side) and a frame strip PNG beside
// it. Without -input it edits a held-out toy video of package videos (a
// digit along a known motion) with its own instruction and measures the
// edit against the true one: Frame-Acc, PSNR, warp error with the true
// motion, Tem-Con. Frame t draws its noise from stream t of -seed, or
// every frame the same noise with -shared-noise. A flag that would do
// nothing in the mode given (a study's flag on an edit, -frames with
// -input, -anchor-choice without -anchors) is a usage error naming it.
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/video"
)

func main() { cli.Main(video.Run) }
