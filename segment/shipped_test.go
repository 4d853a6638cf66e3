package segment_test

import (
	"testing"

	"github.com/clockwork-go/clockwork/scenes"
	"github.com/clockwork-go/clockwork/segment"
)

// TestShippedModel segments 60 held-out scenes with the shipped model and
// checks that it is the trained one its README describes (mean IoU 0.855
// on 500 scenes), not an untrained or damaged copy: an untrained network
// scores below 0.1.
func TestShippedModel(t *testing.T) {
	m, err := segment.Load("../models/segment")
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	set, err := scenes.Open("test", n)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n*64*64)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	set.Batch(idx, x, nil)
	z, err := segment.NewPredictor(m).Predict(x, n, 64, 64, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := segment.Evaluate(set, segment.Argmax(z, n, m.Config.Classes, 64*64), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mean IoU %.3f, pixel accuracy %.4f, separated %.3f", r.MeanIoU.Value, r.PixelAccuracy.Value, r.Separated.Value)
	if r.MeanIoU.Value < 0.75 || r.PixelAccuracy.Value < 0.98 {
		t.Errorf("shipped model: mean IoU %.3f, pixel accuracy %.4f on %d held-out scenes; its README has 0.855 and 0.993 on 500", r.MeanIoU.Value, r.PixelAccuracy.Value, n)
	}
}
