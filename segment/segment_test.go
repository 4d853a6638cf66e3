package segment

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/scenes"
	"github.com/clockwork-go/clockwork/train"
)

func TestOutputSizes(t *testing.T) {
	for _, c := range []Config{
		{Depth: 2, Padding: "valid"}, {Depth: 3, Padding: "valid"}, {Depth: 4, Padding: "valid"},
	} {
		fits := 0
		for in := 1; in < 700; in++ {
			out, err := c.OutputSize(in)
			if err != nil {
				if !strings.Contains(err.Error(), "smallest size that works is") {
					t.Fatalf("depth %d, input %d: error %q does not name the smallest size", c.Depth, in, err)
				}
				continue
			}
			fits++
			if out != in-2*c.Border() {
				t.Fatalf("depth %d: input %d gives %d, want %d − 2·%d", c.Depth, in, out, in, c.Border())
			}
		}
		if fits == 0 {
			t.Fatalf("depth %d: no size fits", c.Depth)
		}
	}
	// The paper's network: 572 → 388, and 570 does not fit.
	paper := Config{Depth: 4, Padding: "valid"}
	if out, err := paper.OutputSize(572); err != nil || out != 388 {
		t.Errorf("paper's 572: %d, %v; want 388", out, err)
	}
	_, err := paper.OutputSize(570)
	if err == nil || !strings.Contains(err.Error(), "smallest size that works is 188") {
		t.Errorf("570 at depth 4: %v; want an error naming 188", err)
	}
	same := Config{Depth: 3, Padding: "same"}
	if out, err := same.OutputSize(64); err != nil || out != 64 {
		t.Errorf("same padding 64: %d, %v", out, err)
	}
	if _, err := same.OutputSize(60); err == nil || !strings.Contains(err.Error(), "multiples of 8") {
		t.Errorf("same padding 60: %v", err)
	}
}

// bruteDistances returns, per pixel, the Euclidean distance to the
// nearest pixel of each instance.
func bruteWeight(inst []uint8, size int, w0, sigma float64) []float64 {
	p := size * size
	fg := 0
	ids := map[uint8]bool{}
	for _, v := range inst {
		if v != 0 {
			fg++
			ids[v] = true
		}
	}
	w := make([]float64, p)
	for j, v := range inst {
		if v != 0 {
			w[j] = float64(p) / float64(2*fg)
			continue
		}
		w[j] = float64(p) / float64(2*(p-fg))
		var ds []float64
		for id := range ids {
			best := math.Inf(1)
			for k, u := range inst {
				if u == id {
					dy, dx := float64(k/size-j/size), float64(k%size-j%size)
					best = min(best, math.Hypot(dy, dx))
				}
			}
			ds = append(ds, best)
		}
		slices.Sort(ds)
		if len(ds) >= 2 {
			s := ds[0] + ds[1]
			w[j] += w0 * math.Exp(-s*s/(2*sigma*sigma))
		}
	}
	return w
}

func TestWeightMapMatchesBruteForce(t *testing.T) {
	src, err := datasets.MNIST("test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := scenes.DefaultConfig()
	cfg.Size = 40
	cfg.MaxDigits = 3
	set, err := scenes.Generate(src, 3, cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range set.Len() {
		_, _, inst := set.Scene(i)
		got := WeightMap(inst, cfg.Size, 10, 5)
		want := bruteWeight(inst, cfg.Size, 10, 5)
		for j := range got {
			if math.Abs(float64(got[j])-want[j]) > 1e-4*math.Max(1, want[j]) {
				t.Fatalf("scene %d pixel %d: %v, brute force %v", i, j, got[j], want[j])
			}
		}
	}
	// The border term peaks in the gap between two close objects.
	m := make([]uint8, 20*20)
	for y := 5; y < 15; y++ {
		m[y*20+5], m[y*20+8] = 1, 2
	}
	w := WeightMap(m, 20, 10, 5)
	if gap, far := w[10*20+6], w[10*20+18]; gap < far+5 {
		t.Errorf("gap weight %v, far weight %v: the gap should weigh more", gap, far)
	}
	if one := WeightMap(m[:20*10], 10*2, 10, 5); len(one) != 400 {
		t.Fatal("size")
	}
}

// randomImage returns n images of side s in [−1, 1].
func randomImage(n, s int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*s*s)
	for j := range x {
		x[j] = float32(rng.Float64()*2 - 1)
	}
	return x
}

// perturbBuffers gives the batch norms' running statistics values other
// than their initial ones, so that evaluation mode is tested.
func perturbBuffers(m *Model) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range m.Buffers.Names() {
		for j := range m.Buffers.Data(n) {
			if strings.HasSuffix(n, "running_var") {
				m.Buffers.Data(n)[j] = float32(0.5 + rng.Float64())
			} else {
				m.Buffers.Data(n)[j] = float32(rng.Float64() - 0.5)
			}
		}
	}
}

// TestOverlapTileEqualsOnePiece predicts a 128×128 scene under valid
// padding in tiles and in one piece, at depths 2 to 4 (from depth 3 on, an
// output tile's side is never a multiple of 2^Depth, so the tiles must
// step by less than their output to stay aligned with the poolings).
func TestOverlapTileEqualsOnePiece(t *testing.T) {
	for _, tc := range []struct {
		variant string
		depth   int
	}{{UNet, 2}, {Attention, 2}, {Residual, 2}, {UNet, 3}, {Attention, 3}, {Residual, 4}} {
		variant := fmt.Sprintf("%s depth %d", tc.variant, tc.depth)
		m, err := New(Config{InChannels: 1, Classes: 11, Depth: tc.depth, Width: 4, Padding: "valid", BatchNorm: true, Variant: tc.variant}, 3)
		if err != nil {
			t.Fatal(err)
		}
		perturbBuffers(m)
		p := NewPredictor(m)
		x := randomImage(1, 128, 1)
		whole, err := p.Predict(x, 1, 128, 128, 0)
		if err != nil {
			t.Fatal(err)
		}
		tiled, err := p.Predict(x, 1, 128, 128, 64)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for j := range whole {
			worst = max(worst, math.Abs(float64(whole[j]-tiled[j])))
		}
		if worst > 1e-4 {
			t.Errorf("%s: tiled and one-piece scores differ by %g", variant, worst)
		}
		a, b := Argmax(whole, 1, 11, 128*128), Argmax(tiled, 1, 11, 128*128)
		if !slices.Equal(a, b) {
			t.Errorf("%s: tiled and one-piece masks differ", variant)
		}
		// Tiles of 48 do not divide 128: the last ones are cut.
		odd, err := p.Predict(x, 1, 128, 128, 48)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, Argmax(odd, 1, 11, 128*128)) {
			t.Errorf("%s: tiles of 48 give another mask", variant)
		}
	}
}

func TestSamePaddingPredicts(t *testing.T) {
	m, err := New(Config{InChannels: 1, Classes: 3, Depth: 2, Width: 4, Padding: "same", Variant: UNet}, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPredictor(m)
	z, err := p.Predict(randomImage(2, 30, 2), 2, 30, 30, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(z) != 2*3*30*30 {
		t.Fatalf("%d scores", len(z))
	}
	for _, v := range z {
		if math.IsNaN(float64(v)) {
			t.Fatal("NaN score")
		}
	}
	// One piece of a size that fits is the network on the image itself,
	// as in training; tiles carry their context and come close.
	x := randomImage(3, 32, 3)
	whole, err := p.Predict(x, 3, 32, 32, 0)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := p.Logits(x, 3, 32)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(whole, plain) {
		t.Error("same padding: one piece is not the network on the image")
	}
	if _, err := p.Predict(x, 3, 32, 32, 8); err != nil {
		t.Fatal(err)
	}
}

func tinyStream(t *testing.T) *scenes.Stream {
	t.Helper()
	src, err := datasets.MNIST("train", "", false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := scenes.DefaultConfig()
	cfg.Size = 32
	cfg.MinDigits, cfg.MaxDigits = 1, 2
	st, err := scenes.NewStream(src, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// repeat draws the same few scenes over and over.
type repeat struct {
	*scenes.Stream
	n int
}

func (r repeat) Draw(i int, img, sem, inst []uint8) []scenes.Digit {
	return r.Stream.Draw(i%r.n, img, sem, inst)
}

func TestTrainingLowersLossAndResumesExactly(t *testing.T) {
	cfg := Config{InChannels: 1, Classes: 11, Depth: 2, Width: 4, Padding: "valid", BatchNorm: true, Variant: Attention}
	opts := TrainOptions{Steps: 20, Batch: 2, LR: train.LR{Peak: 1e-2, Warmup: 2, Decay: "cosine", Steps: 20}, WeightMap: true, W0: 10, Sigma: 5, Dice: 0.5}
	st := repeat{tinyStream(t), opts.Batch} // one batch, learnt by heart
	run := func(dir string, stopAt int) (*Model, []float64) {
		m, err := New(cfg, 4)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTrainer(m, st, opts)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		ck := tr.Checkpoint(func() int { return done }, func(s int) { done = s })
		if has, _ := train.HasCheckpoint(dir); has {
			latest, err := train.Latest(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := ck.Load(latest); err != nil {
				t.Fatal(err)
			}
		}
		var losses []float64
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		l := &train.Loop{Dir: dir, Steps: opts.Steps, Done: done, Checkpoint: ck, CheckpointEvery: 100,
			Step: func(s int) error {
				if s == stopAt {
					cancel()
				}
				err := tr.Step(s)
				losses = append(losses, tr.Loss)
				done = s + 1
				return err
			}}
		if err := l.Run(ctx); err != nil && err != train.ErrInterrupted {
			t.Fatal(err)
		}
		return m, losses
	}
	root := t.TempDir()
	whole, losses := run(filepath.Join(root, "whole"), -1)
	t.Logf("losses %.3f", losses)
	if !(losses[len(losses)-1] < 0.7*losses[0]) {
		t.Errorf("loss %v → %v did not fall", losses[0], losses[len(losses)-1])
	}
	dir := filepath.Join(root, "split")
	run(dir, 5)
	resumed, _ := run(dir, -1)
	for _, n := range whole.All().Names() {
		if !slices.Equal(whole.All().Data(n), resumed.All().Data(n)) {
			t.Fatalf("%s differs after an interrupted and resumed run", n)
		}
	}
	// A checkpoint refuses other settings, but not more steps.
	latest, err := train.Latest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, change := range []func(o *TrainOptions){
		func(o *TrainOptions) { o.Batch = 3 },
		func(o *TrainOptions) { o.LR.Peak = 2e-2 },
		func(o *TrainOptions) { o.WeightMap = false },
		func(o *TrainOptions) { o.Dice = 0 },
		func(o *TrainOptions) { o.Steps, o.LR.Steps = 40, 40 },
	} {
		o := opts
		change(&o)
		m, _ := New(cfg, 4)
		tr, err := NewTrainer(m, st, o)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		err = tr.Checkpoint(func() int { return done }, func(s int) { done = s }).Load(latest)
		if extend := o.Steps != opts.Steps; (err == nil) != extend {
			t.Errorf("resume with %+v: error %v", o, err)
		}
	}
	// Saved and loaded, the model predicts the same.
	md := filepath.Join(root, "model")
	if err := whole.Save(md); err != nil {
		t.Fatal(err)
	}
	back, err := Load(md)
	if err != nil {
		t.Fatal(err)
	}
	x := randomImage(1, 32, 3)
	a, _ := NewPredictor(whole).Predict(x, 1, 32, 32, 0)
	b, _ := NewPredictor(back).Predict(x, 1, 32, 32, 0)
	if !slices.Equal(a, b) {
		t.Error("a loaded model predicts otherwise")
	}
}

func TestEvaluateTruthIsPerfect(t *testing.T) {
	set, err := scenes.Open("test", 40)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Evaluate(set, set.Semantic, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.MeanIoU.Value != 1 || r.PixelAccuracy.Value != 1 || r.MeanDice.Value != 1 {
		t.Errorf("truth as prediction: mean IoU %v, accuracy %v", r.MeanIoU.Value, r.PixelAccuracy.Value)
	}
	if r.Pairs == 0 || r.Separated.Value != r.TruthSeparated || r.TruthSeparated < 0.8 {
		t.Errorf("%d pairs, separated %v, truth %v", r.Pairs, r.Separated.Value, r.TruthSeparated)
	}
	// All background: digits' IoU 0, and no pair separated.
	r, err = Evaluate(set, make([]uint8, len(set.Semantic)), 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.IoU[3] != 0 || r.Separated.Value != 0 || r.MeanIoU.Value > 0.1 {
		t.Errorf("blank prediction: IoU %v, separated %v", r.IoU, r.Separated.Value)
	}
	if r.Missed != 1 || r.WrongDigit != 0 || r.Spurious != 0 {
		t.Errorf("blank prediction: missed %v, wrong digit %v, spurious %v", r.Missed, r.WrongDigit, r.Spurious)
	}
	// Every digit one class up (9 wraps to 0): every digit pixel wrong,
	// none missed, and no digit found, so no pair separated.
	shifted := slices.Clone(set.Semantic)
	for j, v := range shifted {
		if v > 0 {
			shifted[j] = v%10 + 1
		}
	}
	if r, err = Evaluate(set, shifted, 10, 0); err != nil {
		t.Fatal(err)
	}
	if r.WrongDigit != 1 || r.Missed != 0 || r.Spurious != 0 || r.Separated.Value != 0 {
		t.Errorf("shifted classes: wrong digit %v, missed %v, spurious %v, separated %v", r.WrongDigit, r.Missed, r.Spurious, r.Separated.Value)
	}
	bad := slices.Clone(set.Semantic)
	bad[7] = 11
	if _, err := Evaluate(set, bad, 10, 0); err == nil || !strings.Contains(err.Error(), "class 11 out of range") {
		t.Errorf("class 11: %v", err)
	}
}

func TestSeparated(t *testing.T) {
	// Two touching digits of class 3 (instances 1 and 2) are one region
	// in the semantic mask; a background gap separates them; a digit
	// classed wrong is not found.
	inst := []uint8{
		1, 1, 2, 2,
		1, 1, 2, 2,
		0, 0, 0, 0,
		0, 0, 0, 0,
	}
	sem := make([]uint8, 16)
	for j, v := range inst {
		if v != 0 {
			sem[j] = 4
		}
	}
	pairs := scenes.TouchingPairs(inst, 4)
	if len(pairs) != 1 {
		t.Fatalf("pairs %v", pairs)
	}
	gap := slices.Clone(sem)
	gap[1], gap[5] = 0, 0
	wrong := slices.Clone(sem)
	wrong[2], wrong[3], wrong[6], wrong[7] = 5, 5, 5, 5
	// The gap, but digit 2 keeps its class on one pixel of four only:
	// not found; on two of four, it is.
	scrap := slices.Clone(gap)
	scrap[2], scrap[3], scrap[6] = 5, 5, 5
	half := slices.Clone(gap)
	half[2], half[3] = 5, 5
	for _, c := range []struct {
		name string
		mask []uint8
		want int
	}{{"truth", sem, 0}, {"gap", gap, 1}, {"wrong class", wrong, 0}, {"one pixel right", scrap, 0}, {"half right", half, 1}} {
		if got := Separated(c.mask, sem, inst, 4, pairs); got != c.want {
			t.Errorf("%s: %d separated, want %d", c.name, got, c.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{InChannels: 1, Classes: 11, Depth: 0, Width: 4, Padding: "valid", Variant: UNet},
		{InChannels: 1, Classes: 11, Depth: 2, Width: 4, Padding: "full", Variant: UNet},
		{InChannels: 1, Classes: 11, Depth: 2, Width: 4, Padding: "valid", Variant: "dense"},
		{InChannels: 0, Classes: 11, Depth: 2, Width: 4, Padding: "valid", Variant: UNet},
	} {
		if _, err := New(c, 0); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}
