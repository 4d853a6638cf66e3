package diffusion

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

func tinyModel(t *testing.T) *unet.Model {
	t.Helper()
	c := unet.DefaultConfig()
	c.BlockOutChannels = []int{8, 16}
	c.DownBlockTypes = []string{"DownBlock2D", "AttnDownBlock2D"}
	c.UpBlockTypes = []string{"AttnUpBlock2D", "UpBlock2D"}
	c.LayersPerBlock = 1
	four, eight, five := 4, 8, 5
	c.NormNumGroups, c.AttentionHeadDim, c.NumClassEmbeds = &four, &eight, &five
	m, err := unet.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tinyConfig() TrainConfig {
	c := DefaultTrainConfig()
	c.Steps, c.BatchSize, c.Warmup, c.CheckpointEvery, c.SampleEvery, c.LogEvery = 6, 4, 2, 3, 0, 1
	c.MinSNRGamma = 5
	return c
}

func shapes(t *testing.T) *datasets.Images {
	d, err := datasets.Shapes(40, 16, 3)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func sameParams(t *testing.T, what string, a, b *unet.Model) {
	t.Helper()
	for _, n := range a.Params.Names() {
		x, y := a.Params.Data(n), b.Params.Data(n)
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("%s: %s[%d] = %g vs %g", what, n, i, x[i], y[i])
			}
		}
	}
}

// threeSteps trains the tiny model for 3 steps (one checkpoint) in a new
// run directory and returns it with its trainer.
func threeSteps(t *testing.T, data *datasets.Images) (string, *Trainer) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	c := tinyConfig()
	c.Steps = 3
	tr, err := NewTrainer(dir, tinyModel(t), data, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir, tr
}

// TestResumeExact: N steps in one run equal N/2 steps, a resume from the
// checkpoint, and N/2 more — weights, EMA and optimiser state bit for bit.
func TestResumeExact(t *testing.T) {
	data := shapes(t)
	one := filepath.Join(t.TempDir(), "one")
	tr, err := NewTrainer(one, tinyModel(t), data, tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	two := filepath.Join(t.TempDir(), "two")
	c := tinyConfig()
	c.Steps = 3
	tr2, err := NewTrainer(two, tinyModel(t), data, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Continue the same run to 6 steps.
	tr3, err := ResumeTrainer(two, data)
	if err != nil {
		t.Fatal(err)
	}
	if tr3.Step != 3 {
		t.Fatalf("resumed at step %d, want 3", tr3.Step)
	}
	tr3.Config.Steps = 6
	if err := tr3.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameParams(t, "weights", tr.Model, tr3.Model)
	e1, _ := tr.EMAModel()
	e3, _ := tr3.EMAModel()
	sameParams(t, "ema", e1, e3)
	for n, m := range tr.Opt.V {
		for i, v := range m {
			if tr3.Opt.V[n][i] != v {
				t.Fatalf("adam second moment of %s differs", n)
			}
		}
	}
	// The run exported its EMA model.
	if _, err := unet.Load(filepath.Join(one, "model")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(one, "metrics.jsonl"))
	if strings.Count(string(b), "\n") != 6 || !strings.Contains(string(b), `"loss"`) {
		t.Errorf("metrics.jsonl: %q", b)
	}
}

// TestCheckpointKilledMidway: a checkpoint write that fails part-way leaves
// the previous checkpoint loadable as the latest.
func TestCheckpointKilledMidway(t *testing.T) {
	data := shapes(t)
	dir, _ := threeSteps(t, data)
	for _, after := range []string{"model", "ema", "state"} {
		tr, err := ResumeTrainer(dir, data)
		if err != nil {
			t.Fatal(err)
		}
		tr.Config.Steps = 6
		checkpointFail = after
		err = tr.Run(context.Background())
		checkpointFail = ""
		if err == nil || !strings.Contains(err.Error(), "simulated failure") {
			t.Fatalf("failure after %s: error %v", after, err)
		}
		back, err := ResumeTrainer(dir, data)
		if err != nil {
			t.Fatalf("after a failed write (%s) the previous checkpoint does not load: %v", after, err)
		}
		if back.Step != 3 {
			t.Errorf("after a failed write (%s) the latest checkpoint is at step %d, want 3", after, back.Step)
		}
	}
}

func TestInterruptCheckpoints(t *testing.T) {
	data := shapes(t)
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := NewTrainer(dir, tinyModel(t), data, tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Run(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("cancelled run: %v", err)
	}
	back, err := ResumeTrainer(dir, data)
	if err != nil || back.Step != 0 {
		t.Fatalf("resume after interrupt: step %v, %v", back, err)
	}
	if _, err := NewTrainer(dir, tinyModel(t), data, tinyConfig()); err == nil {
		t.Error("a new run over an existing checkpoint was allowed")
	}
}

func TestNaNStopsRun(t *testing.T) {
	data := shapes(t)
	dir := filepath.Join(t.TempDir(), "run")
	c := tinyConfig()
	tr, _ := NewTrainer(dir, tinyModel(t), data, c)
	c.Steps = 3
	tr.Config.Steps = 3
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr, _ = ResumeTrainer(dir, data)
	tr.Config.Steps = 6
	tr.Model.Params.Data("conv_out.bias")[0] = float32(math.NaN())
	err := tr.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN weights: error %v", err)
	}
	back, err := ResumeTrainer(dir, data)
	if err != nil || back.Step != 3 || math.IsNaN(float64(back.Model.Params.Data("conv_out.bias")[0])) {
		t.Fatalf("after a NaN the last good checkpoint must remain: %v %v", back, err)
	}
}

// TestMetricsTrimmedOnResume: steps logged after the last checkpoint by a
// run that then crashed (and a line the crash cut short) are dropped when
// the run resumes, so that metrics.jsonl holds every step once; a new run
// in a directory with an old metrics file starts it afresh.
func TestMetricsTrimmedOnResume(t *testing.T) {
	data := shapes(t)
	dir := filepath.Join(t.TempDir(), "run")
	mp := filepath.Join(dir, "metrics.jsonl")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(mp, []byte(`{"step":7,"loss":1}`+"\n"), 0o644)
	c := tinyConfig()
	c.Steps = 3
	tr, err := NewTrainer(dir, tinyModel(t), data, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(mp, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step":4,"loss":0.5}` + "\n" + `{"step":5,"lo`)
	f.Close()
	tr, err = ResumeTrainer(dir, data)
	if err != nil {
		t.Fatal(err)
	}
	tr.Config.Steps = 6
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(mp)
	var steps []int
	for line := range strings.Lines(string(b)) {
		var m Metrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		steps = append(steps, m.Step)
	}
	if !slices.Equal(steps, []int{1, 2, 3, 4, 5, 6}) {
		t.Errorf("metrics.jsonl steps %v, want 1..6 once each", steps)
	}
}

// TestCheckpointSameStepTwice: saving again at a step already saved (an
// interrupt right after a scheduled checkpoint) keeps it loadable.
func TestCheckpointSameStepTwice(t *testing.T) {
	data := shapes(t)
	dir, tr := threeSteps(t, data)
	c := tr.Config
	tr.Config.Steps = 9 // a resume with a new step count, interrupted at once
	if err := tr.saveCheckpoint(); err != nil {
		t.Fatal(err)
	}
	back, err := ResumeTrainer(dir, data)
	if err != nil || back.Step != 3 {
		t.Fatalf("after a second save at step 3: %v, %v", back, err)
	}
	if back.Config.Steps != 9 {
		t.Errorf("second save at step 3 kept steps %d, want 9", back.Config.Steps)
	}
	sameParams(t, "weights", tr.Model, back.Model)
	// An unreadable latest file is an error for a new run, not "none".
	os.WriteFile(filepath.Join(dir, train.CheckpointDir, train.LatestFile), []byte("garbage\n"), 0o644)
	if _, err := NewTrainer(dir, tinyModel(t), data, c); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("new run over a malformed latest file: %v", err)
	}
}

func TestTrainConfigErrors(t *testing.T) {
	data := shapes(t)
	for _, edit := range []func(*TrainConfig){
		func(c *TrainConfig) { c.Steps = 0 },
		func(c *TrainConfig) { c.LR = math.NaN() },
		func(c *TrainConfig) { c.Decay = "step" },
		func(c *TrainConfig) { c.Optimizer = "sgd" },
		func(c *TrainConfig) { c.EMADecay = 1 },
		func(c *TrainConfig) { c.EMADecay = math.NaN() },
		func(c *TrainConfig) { c.CondDropout = math.NaN() },
		func(c *TrainConfig) { c.GradClip = math.NaN() },
		func(c *TrainConfig) { c.MinSNRGamma = math.Inf(1) },
		func(c *TrainConfig) { c.BatchSize = 100 },
		func(c *TrainConfig) { c.Schedule.BetaSchedule = "quadratic" },
	} {
		c := tinyConfig()
		edit(&c)
		if _, err := NewTrainer(t.TempDir(), tinyModel(t), data, c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	gray, _ := datasets.MNIST("test", "", false)
	if _, err := NewTrainer(t.TempDir(), tinyModel(t), gray.Subset(100), tinyConfig()); err == nil {
		t.Error("one-channel data accepted by a three-channel model")
	}
}

// TestLeftoverCheckpoints: step directories without a latest file (a crash
// before the first one was written, or latest removed by hand) are an error
// for a new run, which would otherwise mix its checkpoints with them.
func TestLeftoverCheckpoints(t *testing.T) {
	data := shapes(t)
	dir, tr := threeSteps(t, data)
	c := tr.Config
	os.Remove(filepath.Join(dir, train.CheckpointDir, train.LatestFile))
	if _, err := NewTrainer(dir, tinyModel(t), data, c); err == nil || !strings.Contains(err.Error(), "step-00000003") {
		t.Errorf("new run over leftover checkpoints: %v", err)
	}
}

// TestZeroSNRNeedsV: ε-prediction is undefined at zero SNR.
func TestZeroSNRNeedsV(t *testing.T) {
	c := tinyConfig()
	c.Schedule.RescaleBetasZeroSNR = true
	if err := c.Validate(); err == nil {
		t.Error("zero terminal SNR with epsilon prediction accepted")
	}
	c.Schedule.PredictionType = PredictV
	if err := c.Validate(); err != nil {
		t.Errorf("zero terminal SNR with v-prediction: %v", err)
	}
}

func TestParseLabels(t *testing.T) {
	if l, err := ParseLabels("cycle", 5, 4); err != nil || !slices.Equal(l, []int64{0, 1, 2, 0, 1}) {
		t.Errorf("cycle: %v %v", l, err)
	}
	if l, err := ParseLabels("2,0", 3, 11); err != nil || !slices.Equal(l, []int64{2, 0, 2}) {
		t.Errorf("list: %v %v", l, err)
	}
	for _, c := range []struct {
		spec string
		n, k int
		want string
	}{
		{"cycle", 0, 11, "positive number"},
		{"cycle", -1, 11, "positive number"},
		{"cycle", 4, 1, "no class besides the null class"},
		{"11", 4, 11, "not a class"},
		{"", 4, 11, "class-conditional"},
		{"3", 4, 0, "unconditional"},
	} {
		if _, err := ParseLabels(c.spec, c.n, c.k); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseLabels(%q, %d, %d): %v, want an error mentioning %q", c.spec, c.n, c.k, err, c.want)
		}
	}
}

// TestMaxTimestep: -max-timestep draws every training timestep below it,
// and a bound outside the schedule is refused.
func TestMaxTimestep(t *testing.T) {
	c := tinyConfig()
	c.BatchSize = 32
	c.MaxTimestep = 50
	tr, err := NewTrainer(t.TempDir(), tinyModel(t), shapes(t), c)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0.0
	for range 8 {
		tr.nextBatch(&tr.b)
		for _, ts := range tr.b.t {
			if ts < 0 || ts >= 50 {
				t.Fatalf("timestep %g drawn with max timestep 50", ts)
			}
			seen = max(seen, ts)
		}
	}
	if seen < 40 {
		t.Errorf("256 timesteps below 50 reach only %g", seen)
	}
	for _, m := range []int{-1, c.Schedule.NumTrainTimesteps + 1} {
		c.MaxTimestep = m
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max timestep") {
			t.Errorf("max timestep %d: %v", m, err)
		}
	}
}
