package train_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/train"
)

// fit is a one-parameter model trained to w = 3 by gradient descent on
// (w − 3)², with its state in a checkpoint.
type fit struct{ W float64 }

func (f *fit) loop(dir string, done int, lr train.LR) *train.Loop {
	state := train.JSONPart("state.json", func() any { return f },
		func(b []byte) error { return json.Unmarshal(b, f) })
	return &train.Loop{
		Dir: dir, Steps: lr.Steps, Done: done,
		Step: func(step int) error {
			f.W -= lr.At(step) * 2 * (f.W - 3)
			return nil
		},
		Checkpoint:      &train.Checkpoint{State: state},
		CheckpointEvery: 10,
	}
}

// A training run interrupted at step 12 and resumed from its latest
// checkpoint ends where an uninterrupted run does.
func ExampleLoop() {
	root, _ := os.MkdirTemp("", "loop-example")
	defer os.RemoveAll(root)
	lr := train.LR{Peak: 0.1, Warmup: 5, Decay: "cosine", Steps: 40}

	whole := &fit{}
	if err := whole.loop(filepath.Join(root, "whole"), 0, lr).Run(context.Background()); err != nil {
		log.Fatal(err)
	}

	dir := filepath.Join(root, "interrupted")
	ctx, cancel := context.WithCancel(context.Background())
	first := &fit{}
	l := first.loop(dir, 0, lr)
	step := l.Step
	l.Step = func(s int) error {
		if s == 12 {
			cancel() // as Ctrl-C would
		}
		return step(s)
	}
	err := l.Run(ctx)
	fmt.Println("interrupted:", errors.Is(err, train.ErrInterrupted))

	latest, err := train.Latest(dir)
	if err != nil {
		log.Fatal(err)
	}
	resumed := &fit{}
	ck := &train.Checkpoint{State: train.JSONPart("state.json", func() any { return resumed },
		func(b []byte) error { return json.Unmarshal(b, resumed) })}
	if err := ck.Load(latest); err != nil {
		log.Fatal(err)
	}
	done, _ := train.ParseStepName(filepath.Base(latest))
	fmt.Println("resumed at step", done)
	if err := resumed.loop(dir, done, lr).Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("w = %.6f, uninterrupted w = %.6f, same: %v\n", resumed.W, whole.W, resumed.W == whole.W)
	// Output:
	// interrupted: true
	// resumed at step 13
	// w = 2.968527, uninterrupted w = 2.968527, same: true
}
