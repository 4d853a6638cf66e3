package videos

import (
	"bytes"
	"slices"
	"testing"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/metrics"
)

func source(t *testing.T) *datasets.Images {
	src, err := datasets.MNIST("test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestGenerate(t *testing.T) {
	src := source(t)
	a, err := Generate(src, 12, 16, 5, edits.TestMix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(src, 4, 16, 5, edits.TestMix)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range b.Videos {
		if !bytes.Equal(v.Source, a.Videos[i].Source) || !bytes.Equal(v.Target, a.Videos[i].Target) || !slices.Equal(v.Motion, a.Videos[i].Motion) {
			t.Fatalf("video %d depends on the number generated", i)
		}
	}
	const per = captions.Side * captions.Side
	for i, v := range a.Videos {
		if v.Frames() != 16 || len(v.Source) != 16*per || len(v.Target) != 16*per {
			t.Fatalf("video %d: %d frames, %d and %d bytes", i, v.Frames(), len(v.Source), len(v.Target))
		}
		if v.Instruction[edits.Column] != 0 || v.Instruction[edits.Row] != 0 || !v.Instruction.Applies(v.Before) {
			t.Fatalf("video %d: instruction %q", i, v.Instruction)
		}
		if got, err := edits.Parse(v.Phrase); err != nil || got != v.Instruction {
			t.Fatalf("video %d: phrase %q", i, v.Phrase)
		}
		moved := 0.0
		for f := 1; f < v.Frames(); f++ {
			m0, m1 := v.Motion[f-1], v.Motion[f]
			step := (m1.X-m0.X)*(m1.X-m0.X) + (m1.Y-m0.Y)*(m1.Y-m0.Y)
			if step > maxSpeed*maxSpeed+1e-9 {
				t.Fatalf("video %d moves %g pixels between frames %d and %d", i, step, f-1, f)
			}
			moved += step
			if bytes.Equal(v.Source[(f-1)*per:f*per], v.Source[f*per:(f+1)*per]) {
				t.Fatalf("video %d: frames %d and %d are the same", i, f-1, f)
			}
		}
		if moved == 0 {
			t.Fatalf("video %d does not move", i)
		}
	}
	for _, bad := range []int{MinFrames - 1, MaxFrames + 1} {
		if _, err := Generate(src, 2, bad, 5, edits.TestMix); err == nil {
			t.Fatalf("%d frames accepted", bad)
		}
	}
	if _, err := Generate(src, 0, 16, 5, edits.TestMix); err == nil {
		t.Fatal("0 videos accepted")
	}
}

// TestMeasures: the true edit follows the motion far better than the
// same frames out of order, and reads as the edit made.
func TestMeasures(t *testing.T) {
	set, err := Generate(source(t), 6, 16, 9, edits.TestMix)
	if err != nil {
		t.Fatal(err)
	}
	m, err := captions.DefaultMeasurer()
	if err != nil {
		t.Fatal(err)
	}
	clf, err := metrics.MNISTClassifier()
	if err != nil {
		t.Fatal(err)
	}
	const per = captions.Side * captions.Side
	var acc, warp, shuffled float64
	for _, v := range set.Videos {
		tgt := FloatFrames(v.Target)
		sc, err := Measure(m, clf, &v, tgt)
		if err != nil {
			t.Fatal(err)
		}
		if sc.PSNR != metrics.MaxPSNR || sc.TemCon < 0.8 {
			t.Fatalf("the true edit: PSNR %g, Tem-Con %g", sc.PSNR, sc.TemCon)
		}
		acc += sc.FrameAcc / 6
		warp += sc.Warp / 6
		// Frames reversed in pairs: the motion no longer matches.
		mixed := slices.Clone(tgt)
		for f := 0; f+1 < v.Frames(); f += 2 {
			copy(mixed[f*per:(f+1)*per], tgt[(f+1)*per:(f+2)*per])
			copy(mixed[(f+1)*per:(f+2)*per], tgt[f*per:(f+1)*per])
		}
		w, err := WarpError(mixed, v.Motion)
		if err != nil {
			t.Fatal(err)
		}
		shuffled += w / 6
	}
	if acc < 0.85 {
		t.Fatalf("the true edits read as made in %.3f of the frames", acc)
	}
	if warp*4 > shuffled {
		t.Fatalf("warp error %.4f of the true edit, %.4f with frames swapped: the measure does not see the motion", warp, shuffled)
	}
	t.Logf("true edits: Frame-Acc %.3f, warp error %.5f (frames swapped: %.5f)", acc, warp, shuffled)
}
