package videos_test

import (
	"fmt"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/videos"
)

// A toy video: a digit moving along a known motion, and its true edit.
func ExampleGenerate() {
	src, err := datasets.MNIST("test", "", false)
	if err != nil {
		panic(err)
	}
	set, err := videos.Generate(src, 1, 16, 9, edits.TestMix)
	if err != nil {
		panic(err)
	}
	v := set.Videos[0]
	w, _ := videos.WarpError(videos.FloatFrames(v.Target), v.Motion)
	fmt.Printf("%d frames of %s, %q → %s\n", v.Frames(), v.Before, v.Phrase, v.After)
	fmt.Printf("warp error of the true edit below 0.005: %v\n", w < 0.005)
	// Output:
	// 16 frames of a normal small three in the bottom centre, "rotate it a little right and make it thicker" → a thick small three in the bottom centre
	// warp error of the true edit below 0.005: true
}
