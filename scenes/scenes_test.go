package scenes

import (
	"bytes"
	"testing"

	"github.com/clockwork-go/clockwork/datasets"
)

func mnist(t *testing.T, split string) *datasets.Images {
	t.Helper()
	src, err := datasets.MNIST(split, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestScenesMasksAreExact(t *testing.T) {
	src := mnist(t, "train")
	cfg := DefaultConfig()
	s, err := Generate(src, 300, cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	size := cfg.Size
	placed := map[string]int{}
	touching := 0
	for i := range s.Len() {
		img, sem, inst := s.Scene(i)
		digits := s.Digits[i]
		if n := len(digits); n < cfg.MinDigits || n > cfg.MaxDigits {
			t.Fatalf("scene %d has %d digits", i, n)
		}
		// Redraw the masks from the digits: the last drawn wins.
		want := make([]uint8, size*size)
		wantImg := make([]uint8, size*size)
		for k, d := range digits {
			placed[d.Placed]++
			if int(src.Labels[d.Source]) != d.Label {
				t.Fatalf("scene %d digit %d: label %d, source's %d", i, k, d.Label, src.Labels[d.Source])
			}
			g := src.U8[d.Source*784 : (d.Source+1)*784]
			for y := range 28 {
				for x := range 28 {
					o := (d.Y+y)*size + d.X + x
					wantImg[o] = max(wantImg[o], g[y*28+x])
					if g[y*28+x] >= Ink {
						want[o] = uint8(k + 1)
					}
				}
			}
		}
		if !bytes.Equal(want, inst) || !bytes.Equal(wantImg, img) {
			t.Fatalf("scene %d: instance mask or image differs from its digits redrawn", i)
		}
		for o := range inst {
			wantSem := uint8(0)
			if inst[o] > 0 {
				wantSem = uint8(digits[inst[o]-1].Label + 1)
			}
			if sem[o] != wantSem {
				t.Fatalf("scene %d pixel %d: semantic %d, want %d", i, o, sem[o], wantSem)
			}
			if (img[o] >= Ink) != (inst[o] > 0) {
				t.Fatalf("scene %d pixel %d: intensity %d but instance %d", i, o, img[o], inst[o])
			}
		}
		if len(TouchingPairs(inst, size)) > 0 {
			touching++
		}
	}
	// Half the digits after the first are placed touching: most scenes
	// hold a touching pair, and some overlap.
	if touching < 120 || placed["overlapping"] < 20 || placed["touching"] < 80 {
		t.Errorf("%d of 300 scenes touch; placements %v", touching, placed)
	}
	t.Logf("%d of 300 scenes hold touching digits; placements %v", touching, placed)
}

func TestScenesAreSeededAndPrefixStable(t *testing.T) {
	src := mnist(t, "test")
	a, err := Generate(src, 20, DefaultConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(src, 5, DefaultConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Subset(5).Images, b.Images) || !bytes.Equal(a.Subset(5).Instance, b.Instance) {
		t.Error("the first 5 scenes of 20 differ from 5 scenes drawn alone")
	}
	c, _ := Generate(src, 5, DefaultConfig(), 4)
	if bytes.Equal(c.Images, b.Images) {
		t.Error("another seed draws the same scenes")
	}
	st, err := NewStream(src, DefaultConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	p := a.Pixels()
	img, sem, inst := make([]uint8, p), make([]uint8, p), make([]uint8, p)
	st.Draw(17, img, sem, inst)
	wi, ws, wn := a.Scene(17)
	if !bytes.Equal(img, wi) || !bytes.Equal(sem, ws) || !bytes.Equal(inst, wn) {
		t.Error("the stream's scene 17 is not Generate's")
	}
}

func TestScenesBatch(t *testing.T) {
	s, err := Generate(mnist(t, "test"), 3, DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pixels()
	x, y := make([]float32, 2*p), make([]float32, 2*p)
	s.Batch([]int{2, 0}, x, y)
	img, sem, _ := s.Scene(2)
	for j := range p {
		if x[j] != float32(img[j])/127.5-1 || y[j] != float32(sem[j]) {
			t.Fatalf("pixel %d: %v %v from %d %d", j, x[j], y[j], img[j], sem[j])
		}
	}
}

func TestScenesBadConfig(t *testing.T) {
	src := mnist(t, "test")
	for _, c := range []Config{
		{Size: 20, MinDigits: 1, MaxDigits: 2},
		{Size: 64, MinDigits: 3, MaxDigits: 2},
		{Size: 64, MinDigits: 1, MaxDigits: 2, Touch: 1.5},
	} {
		if _, err := Generate(src, 2, c, 1); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if _, err := Open("val", 2); err == nil {
		t.Error("split val accepted")
	}
}

func TestTouchingPairs(t *testing.T) {
	m := []uint8{
		1, 1, 0, 2,
		0, 1, 2, 2,
		3, 0, 0, 0,
		3, 0, 0, 4,
	}
	got := TouchingPairs(m, 4)
	if len(got) != 1 || got[0] != [2]uint8{1, 2} {
		t.Errorf("pairs %v, want [[1 2]] (diagonal neighbours do not touch)", got)
	}
}
