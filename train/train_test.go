package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
)

func TestLR(t *testing.T) {
	s := LR{Peak: 1, Warmup: 4, Decay: "cosine", Steps: 14}
	for step, want := range map[int]float64{0: 0.25, 3: 1, 4: 1, 9: 0.5, 14: 0, 20: 0} {
		if got := s.At(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("step %d: lr %g, want %g", step, got, want)
		}
	}
	s.Decay = "constant"
	if s.At(13) != 1 {
		t.Errorf("constant: %g", s.At(13))
	}
	for _, bad := range []LR{{Peak: math.NaN(), Decay: "cosine", Steps: 1}, {Peak: 1, Decay: "step", Steps: 1}, {Peak: 1, Warmup: -1, Decay: "cosine", Steps: 1}, {Peak: 1, Decay: "cosine"}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// counter is a toy trainer: one parameter moved by a fixed rule, and a
// state that counts steps; its run is reproducible only if the loop
// checkpoints and restores everything.
type counter struct {
	p    *nn.Params
	opt  *nn.Adam
	sum  float64
	step int
}

func newCounter() *counter {
	p := nn.NewParams()
	p.Declare("w", 1, nn.Normal(1), 3)
	return &counter{p: p, opt: nn.NewAdam(0.1)}
}

func (c *counter) checkpoint() *Checkpoint {
	return &Checkpoint{
		Parts: []Part{ParamsPart("w.npz", c.p), AdamPart("adam.npz", c.opt, c.p)},
		State: JSONPart("state.json", func() any { return map[string]any{"step": c.step, "sum": c.sum, "adam": c.opt.Steps} },
			func(b []byte) error {
				var st struct {
					Step, Adam int
					Sum        float64
				}
				if err := json.Unmarshal(b, &st); err != nil {
					return err
				}
				c.step, c.sum, c.opt.Steps = st.Step, st.Sum, st.Adam
				return nil
			}),
	}
}

func (c *counter) loop(dir string, steps int) *Loop {
	return &Loop{Dir: dir, Steps: steps, Done: c.step, Checkpoint: c.checkpoint(), CheckpointEvery: 2, LogEvery: 1,
		Step: func(step int) error {
			w := c.p.Data("w")
			g := make([]float32, len(w))
			for i := range w {
				g[i] = w[i] - float32(step)
			}
			c.sum += float64(w[0])
			c.step = step + 1
			return c.opt.Update(c.p, []string{"w"}, []*tensor.Dense{tensor.New(tensor.WithShape(len(g)), tensor.WithBacking(g))})
		},
		Log: func(step int, _ float64) any { return map[string]any{"step": step, "sum": c.sum} },
	}
}

// TestLoopResumesExactly: a run interrupted at step 3 and resumed from its
// checkpoint ends where an uninterrupted one does, and metrics.jsonl holds
// every step once.
func TestLoopResumesExactly(t *testing.T) {
	one := newCounter()
	if err := one.loop(filepath.Join(t.TempDir(), "one"), 7).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "two")
	two := newCounter()
	ctx, cancel := context.WithCancel(context.Background())
	l := two.loop(dir, 7)
	inner := l.Step
	l.Step = func(step int) error {
		if step == 3 {
			cancel()
		}
		return inner(step)
	}
	if err := l.Run(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	ck, err := Latest(dir)
	if err != nil || filepath.Base(ck) != StepName(4) {
		t.Fatalf("latest checkpoint %q, %v; want step 4", ck, err)
	}
	three := newCounter()
	if err := three.checkpoint().Load(ck); err != nil {
		t.Fatal(err)
	}
	if err := three.loop(dir, 7).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if three.sum != one.sum || three.p.Data("w")[2] != one.p.Data("w")[2] {
		t.Errorf("resumed run ends at sum %g w %g, uninterrupted %g %g", three.sum, three.p.Data("w")[2], one.sum, one.p.Data("w")[2])
	}
	b, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
	var steps []string
	for line := range strings.Lines(string(b)) {
		var m struct{ Step int }
		json.Unmarshal([]byte(line), &m)
		steps = append(steps, strconv.Itoa(m.Step))
	}
	if strings.Join(steps, ",") != "1,2,3,4,5,6,7" {
		t.Errorf("metrics steps %v", steps)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, CheckpointDir))
	var kept []string
	for _, e := range entries {
		kept = append(kept, e.Name())
	}
	if strings.Join(kept, ",") != "latest,step-00000006,step-00000007" {
		t.Errorf("kept %v, want the newest two and latest", kept)
	}
}

// TestCheckpointCrashKeepsPrevious: a write that fails after any part
// leaves the previous checkpoint as the latest.
func TestCheckpointCrashKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	c := newCounter()
	if err := c.checkpoint().Save(dir, 2); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"w.npz", "adam.npz", "state.json"} {
		ck := c.checkpoint()
		ck.AfterPart = func(name string) error {
			if name == part {
				return errors.New("crash")
			}
			return nil
		}
		if err := ck.Save(dir, 4); err == nil {
			t.Fatalf("crash after %s: no error", part)
		}
		if l, err := Latest(dir); err != nil || filepath.Base(l) != StepName(2) {
			t.Errorf("after a crash in %s latest is %q, %v", part, l, err)
		}
		// A write that fails (a full disk: issue 26, case 7) removes its
		// temporary directory at once, not at the next run.
		if left, _ := filepath.Glob(filepath.Join(dir, CheckpointDir, ".tmp-*")); len(left) > 0 {
			t.Errorf("after a failed write in %s: %v left", part, left)
		}
	}
}
