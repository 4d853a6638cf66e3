package videos

import (
	"math"
	"strings"
	"testing"
)

// TestCompare: the paired comparison of a method with a reference.
func TestCompare(t *testing.T) {
	ref := []Score{{Warp: 2, FrameAcc: 0.5, PSNR: 20}, {Warp: 4, FrameAcc: 1, PSNR: 22}, {Warp: 6, FrameAcc: 0.75, PSNR: 21}}
	row := []Score{{Warp: 1, FrameAcc: 0.5, PSNR: 21}, {Warp: 2, FrameAcc: 0.75, PSNR: 23}, {Warp: 3, FrameAcc: 0.75, PSNR: 22}}
	c, err := compare("ref", row, ref, 200)
	if err != nil {
		t.Fatal(err)
	}
	// Every video's warp error is halved: the fold is 2 in every resample.
	if c.WarpFold.Value != 2 || math.Abs(c.WarpFold.Lo-2) > 1e-12 || math.Abs(c.WarpFold.Hi-2) > 1e-12 {
		t.Fatalf("warp fold %+v, want exactly 2", c.WarpFold)
	}
	if math.Abs(c.PSNR.Value-1) > 1e-12 || math.Abs(c.PSNR.Lo-1) > 1e-9 {
		t.Fatalf("PSNR difference %+v, want exactly +1", c.PSNR)
	}
	if math.Abs(c.FrameAcc.Value+0.25/3) > 1e-12 || c.FrameAcc.Lo >= c.FrameAcc.Value || c.FrameAcc.Hi <= c.FrameAcc.Value {
		t.Fatalf("Frame-Acc difference %+v, want −0.083 inside a proper interval", c.FrameAcc)
	}
	var b strings.Builder
	WriteComparisons(&b, []StudyRow{{Name: "m", Against: []Comparison{c}}})
	if !strings.Contains(b.String(), "Against ref") || !strings.Contains(b.String(), "| m | 2.00 [2.00, 2.00]× | -0.083") {
		t.Fatalf("comparison table:\n%s", b.String())
	}
	// Two references: their tables come in the order of their rows.
	b.Reset()
	WriteComparisons(&b, []StudyRow{{Name: "first", Against: []Comparison{{Reference: "second"}}}, {Name: "second", Against: []Comparison{{Reference: "first"}}}})
	if f, s := strings.Index(b.String(), "Against first"), strings.Index(b.String(), "Against second"); f < 0 || s < f {
		t.Fatalf("the references' tables out of order:\n%s", b.String())
	}
	if _, err := compare("ref", []Score{{Warp: 0}}, []Score{{Warp: 1}}, 10); err == nil {
		t.Fatal("a warp error of 0 accepted")
	}
}
