package clockstudy

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/study"
	"github.com/clockwork-go/clockwork/unet"
)

func tinyTeacher(t *testing.T) *unet.Model {
	t.Helper()
	c, _ := unet.ConfigFrom("mnist_tiny") // a small untrained model
	m, err := unet.New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRelativeFLOPs: the cost a method is planned with is the cost its
// Clockwork denoiser counts.
func TestRelativeFLOPs(t *testing.T) {
	m := tinyTeacher(t)
	for _, meth := range []Method{
		ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2"),
		ClockworkMethod("identity", "dpmpp2m", 8, "clock:3"),
		ClockworkMethod("unet-light", "dpmpp2m", 8, "5,6,7,8"),
	} {
		f, err := RelativeFLOPs(m, meth)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := distill.New(m, distill.AdaptorConfig{Kind: meth.Kind, Depth: 1, Steps: 8}, 0)
		sched, _ := distill.ParseClock(meth.Schedule, 8)
		cw, _ := distill.NewClockwork(m, a, sched)
		var counted int64
		for i := 0; i < 8; i++ {
			counted += cw.StepFLOPs(i, 32, 32)
		}
		_, full := m.Cost(32, 32).Total()
		if want := float64(counted) / float64(8*full); math.Abs(f-want) > 1e-12 {
			t.Errorf("%s: planned %g, counted %g", meth.Key(), f, want)
		}
	}
}

// TestLeastSensitiveSchedule: the measured schedule avoids step 1, has the
// asked number of steps, and a study cell with it runs and records it.
func TestLeastSensitiveSchedule(t *testing.T) {
	m := tinyTeacher(t)
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	sens, err := Sensitivity(m, s, "dpmpp2m", 6, 4, 4, 1, diffusion.Cond{})
	if err != nil {
		t.Fatal(err)
	}
	steps := LeastSensitive(sens, 3)
	if len(steps) != 3 || slices.Contains(steps, 1) {
		t.Fatalf("least sensitive steps %v of %v", steps, sens)
	}
	for _, v := range sens[1:] {
		if !(v > 0) || v >= sens[0] {
			t.Errorf("sensitivities %v", sens)
		}
	}
	c := Config{Model: m.Fingerprint(), Shape: []int{1, 32, 32}, N: 4, TimeBatch: 4, TimeRounds: 1, Keep: 2,
		Distill: distill.Training{Epochs: 1, Trajectories: 4, Validation: 4, Batch: 4, LR: 1e-3, Decay: "constant"},
		Methods: []Method{TeacherMethod("dpmpp2m", 6), ClockworkMethod("resnet", "dpmpp2m", 6, LeastSensitivePrefix+"3", "sensitivity")}}
	c.Methods[1].Width = 8
	if err := c.Validate(m); err != nil {
		t.Fatal(err)
	}
	clf, err := metrics.MNISTClassifier()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &Runner{Config: c, Model: m, Noise: s, Classifier: clf, Dir: dir, Adaptors: filepath.Join(dir, "adaptors"), Batch: 4}
	recs, err := study.Run(context.Background(), c.Study(), study.Options{Dir: dir}, r.Run)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	json.Unmarshal(recs[1].Result, &res)
	if !strings.HasPrefix(res.Schedule, "{") || strings.Count(res.Schedule, ",") != 2 || res.L2 == nil {
		t.Errorf("cell recorded schedule %q, L2 %v", res.Schedule, res.L2)
	}
	// Neither cell is the 8-step teacher: both are timed against it in
	// alternating rounds.
	for i, rec := range recs {
		var res Result
		json.Unmarshal(rec.Result, &res)
		if tm := res.Timing; tm == nil || tm.Rounds != 1 || tm.Batch != 4 || !(tm.MsA > 0) || res.MsPerSample != tm.MsB {
			t.Errorf("cell %d: paired timing %+v, ms/sample %g", i, tm, res.MsPerSample)
		}
	}
	bad := c
	bad.Methods = []Method{ClockworkMethod("resnet", "dpmpp2m", 6, LeastSensitivePrefix+"6")}
	if err := bad.Validate(m); err == nil {
		t.Error("least-sensitive:6 of 6 steps accepted")
	}
}

// TestConfigs: the quick and full studies validate, with the teacher at the
// fewer step counts of about Clockwork's cost, and one adaptor directory
// shared by the cells of the multi-step adaptor.
func TestConfigs(t *testing.T) {
	m := tinyTeacher(t)
	q, err := Quick(m)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Full(m)
	if err != nil {
		t.Fatal(err)
	}
	fewer := 0
	for _, meth := range q.Methods {
		if slices.Contains(meth.Groups, "fewer") {
			fewer++
		}
	}
	if fewer < 1 || len(f.Methods) <= len(q.Methods) {
		t.Errorf("quick %d methods (%d fewer-step teachers), full %d", len(q.Methods), fewer, len(f.Methods))
	}
	names := map[string]bool{}
	for _, meth := range f.Methods {
		if len(meth.StepCounts) > 0 {
			names[meth.DistillConfig(f.Distill).Name()] = true
		}
	}
	if len(names) != 1 {
		t.Errorf("the multi-step cells use %d adaptor directories: %v", len(names), names)
	}
}

// TestPrepareSharedAdaptors: cells that share an adaptor (one for several
// step counts) distil it once, beside a single-count adaptor of the same
// operating point, without waiting on their own lock or mixing records.
func TestPrepareSharedAdaptors(t *testing.T) {
	m := tinyTeacher(t)
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	mk := func(steps int, counts []int) Method {
		meth := ClockworkMethod("resnet", "dpmpp2m", steps, "clock:2")
		meth.Width, meth.StepCounts = 8, counts
		return meth
	}
	c := Config{Model: m.Fingerprint(), Shape: []int{1, 32, 32}, N: 4, TimeBatch: 4, TimeRounds: 1,
		Distill: distill.Training{Epochs: 1, Trajectories: 4, Validation: 4, Batch: 4, LR: 1e-3, Decay: "constant"},
		Methods: []Method{mk(4, []int{4, 6}), mk(6, []int{4, 6}), mk(4, nil)}}
	if err := c.Validate(m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &Runner{Config: c, Model: m, Noise: s, Dir: dir, Adaptors: filepath.Join(dir, "adaptors"), Batch: 4}
	done := make(chan error, 1)
	go func() { done <- r.Prepare(c.Methods) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Prepare did not finish")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "adaptors"))
	if len(entries) != 2 {
		t.Errorf("%d adaptor directories, want 2", len(entries))
	}
	for _, meth := range c.Methods {
		if _, _, ok, err := r.finished(meth); !ok || err != nil {
			t.Errorf("%s: no finished adaptor (%v)", meth.Key(), err)
		}
	}
}
