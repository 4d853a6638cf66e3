package videos_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/texttest"
	"github.com/clockwork-go/clockwork/videos"
)

func TestChooseAnchors(t *testing.T) {
	for _, c := range []struct {
		t, k   int
		choice string
		want   []int
	}{{16, 1, videos.AnchorsUniform, []int{7}}, {16, 3, videos.AnchorsUniform, []int{0, 8, 15}}, {16, 7, videos.AnchorsUniform, []int{0, 3, 5, 8, 10, 13, 15}},
		{16, 1, videos.AnchorsMiddle, []int{7}}, {16, 3, videos.AnchorsMiddle, []int{6, 7, 8}}} {
		got, err := videos.ChooseAnchors(c.t, c.k, c.choice)
		if err != nil || !slices.Equal(got, c.want) {
			t.Fatalf("%d of %d (%s): %v, %v; want %v", c.k, c.t, c.choice, got, err, c.want)
		}
	}
	for _, k := range []int{0, 17} {
		if _, err := videos.ChooseAnchors(16, k, videos.AnchorsUniform); err == nil {
			t.Fatalf("%d anchors of 16 frames accepted", k)
		}
	}
}

// testVideo returns the test editor and a held-out toy video of 8 frames
// (its frames as values in [−1, 1]).
func testVideo(t *testing.T) (*edits.Editor, videos.Video, []float32) {
	t.Helper()
	e, err := edits.LoadEditor(texttest.EditorDir(t))
	if err != nil {
		t.Fatal(err)
	}
	src, err := datasets.MNIST("test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	set, err := videos.Generate(src, 1, 8, 3, edits.TestMix)
	if err != nil {
		t.Fatal(err)
	}
	v := set.Videos[0]
	return e, v, videos.FloatFrames(v.Source)
}

// TestEditAnchoredBatches: frames of the second phase are the same bits
// whatever their batch or shard, and the anchors change them.
func TestEditAnchoredBatches(t *testing.T) {
	e, v, frames := testVideo(t)
	o := edits.DefaultOptions()
	o.Steps = 2
	anchors := []int{0, 4, 7}
	whole, err := videos.EditAnchored(e, frames, 8, v.Phrase, o, anchors, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if whole.CacheBytes == 0 {
		t.Fatal("no cache reported")
	}
	ones, err := videos.EditAnchored(e, frames, 8, v.Phrase, o, anchors, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(whole.Frames, ones.Frames) {
		t.Fatal("the frames differ between batches of 5 and of 1")
	}
	for _, bad := range []edits.Options{{Compose: 2}, {Chain: true}} {
		ob := o
		ob.Compose, ob.Chain = bad.Compose, bad.Chain
		if _, err := videos.EditAnchored(e, frames, 8, v.Phrase, ob, anchors, 5, nil); err == nil || !strings.Contains(err.Error(), "runs the editor as it is") {
			t.Fatalf("video editing with composed or chained clauses: %v", err)
		}
	}
	const per = 32 * 32
	for _, shard := range [][]int{{1, 2}, {3, 5, 6}} {
		part, err := videos.EditAnchored(e, frames, 8, v.Phrase, o, anchors, 2, shard)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(shard, anchors...) {
			if !slices.Equal(part.Frames[f*per:(f+1)*per], whole.Frames[f*per:(f+1)*per]) {
				t.Fatalf("frame %d differs in the shard %v", f, shard)
			}
		}
	}
	// From shared noise, too, a frame is the same in any batch, and it is
	// not the frame of per-frame noise.
	so := o
	so.SharedNoise = true
	sh5, err := videos.EditAnchored(e, frames, 8, v.Phrase, so, anchors, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	sh1, err := videos.EditAnchored(e, frames, 8, v.Phrase, so, anchors, 1, []int{1, 6})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []int{0, 1, 4, 6, 7} {
		if !slices.Equal(sh5.Frames[f*per:(f+1)*per], sh1.Frames[f*per:(f+1)*per]) {
			t.Fatalf("shared noise: frame %d differs between a batch of 5 and a shard in batches of 1", f)
		}
	}
	if slices.Equal(sh5.Frames[per:2*per], whole.Frames[per:2*per]) {
		t.Fatal("shared noise does not change frame 1")
	}
	plain, err := e.Edit(frames, 8, []string{v.Phrase}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(plain[per:2*per], whole.Frames[per:2*per]) {
		t.Fatal("the anchors do not change frame 1")
	}
	if _, err := videos.EditAnchored(e, frames, 8, v.Phrase, o, []int{9}, 2, nil); err == nil {
		t.Fatal("an anchor beyond the video accepted")
	}
	if _, err := videos.EditAnchored(e, frames, 8, v.Phrase, o, []int{3, 3}, 2, nil); err == nil {
		t.Fatal("an anchor given twice accepted")
	}
}

// TestEditFromFrames checks video editing from the frames
// (edits.Options.Strength): frame by frame it is the editor's own edit of
// each frame from its source, with anchors a frame is the same in any
// batch and not the frame edited from noise, and Clockwork's clock covers
// the steps such a run makes.
func TestEditFromFrames(t *testing.T) {
	e, v, frames := testVideo(t)
	o := edits.DefaultOptions()
	o.Steps, o.Strength = 4, 0.5
	byFrame, err := videos.Editing{Editor: e, Options: o, Batch: 4}.Run(frames, 8, v.Phrase, nil)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := e.Edit(frames, 8, []string{v.Phrase}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(byFrame.Frames, edited) {
		t.Fatal("frame by frame from the frames is not the editor's edit of each frame from its source")
	}
	anchors := []int{0, 7}
	a4, err := videos.EditAnchored(e, frames, 8, v.Phrase, o, anchors, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	a1, err := videos.EditAnchored(e, frames, 8, v.Phrase, o, anchors, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a4.Frames, a1.Frames) {
		t.Fatal("anchored editing from the frames differs between batches of 4 and of 1")
	}
	on := o
	on.Strength = 0
	noise, err := videos.EditAnchored(e, frames, 8, v.Phrase, on, anchors, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(noise.Frames, a4.Frames) {
		t.Fatal("anchored editing from the frames is the editing from noise")
	}
	// Clockwork's clock covers the steps the run makes (2 of 4 here): at
	// clock 1 every one runs the full U-Net, the frame-by-frame edit
	// itself; at clock 2 the second runs the adaptor.
	full, err := videos.Editing{Editor: e, Options: o, Batch: 4, Adaptor: "identity", Clock: "clock:1"}.Run(frames, 8, v.Phrase, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(full.Frames, byFrame.Frames) {
		t.Fatal("Clockwork at clock 1 from the frames is not the editor's edit")
	}
	cw, err := videos.Editing{Editor: e, Options: o, Batch: 4, Adaptor: "identity", Clock: "clock:2"}.Run(frames, 8, v.Phrase, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(cw.Frames, byFrame.Frames) {
		t.Fatal("Clockwork at clock 2 from the frames ran no adaptor step")
	}
	if _, err := (videos.Editing{Editor: e, Options: o, Batch: 4, Adaptor: "identity", Clock: "2,3"}).Run(frames, 8, v.Phrase, nil); err == nil || !strings.Contains(err.Error(), "outside the 2 steps") {
		t.Fatalf("an adaptor step beyond the 2 the run makes: %v", err)
	}
}
