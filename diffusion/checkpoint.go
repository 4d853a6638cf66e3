package diffusion

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/weightio"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// A diffusion run's checkpoint (train.Checkpoint) holds model/ (config.json,
// the weights as unet.Save writes them, and a text-conditioned model's text encoder in
// model/text_encoder/), ema.npz, adam.npz (first and second moments, the
// text encoder's included) and state.json (step, data order, random state,
// optimiser counters, training config).

// trainState is the part of a checkpoint that is not arrays. Data, the
// training images' description, is absent from checkpoints written before
// it was recorded.
type trainState struct {
	Step       int            `json:"step"`
	Epoch      int            `json:"epoch"`
	Pos        int            `json:"pos"`
	RNG        []byte         `json:"rng"`
	AdamSteps  int            `json:"adam_steps"`
	EMAUpdates int            `json:"ema_updates"`
	Config     TrainConfig    `json:"config"`
	Data       *datasets.Info `json:"data,omitempty"`
}

// checkpointFail, when set by a test, makes checkpoint writing fail after the
// part whose name starts with it, as a process killed midway would leave it.
var checkpointFail string

// checkpoint returns the parts of the trainer's checkpoints.
func (tr *Trainer) checkpoint() *train.Checkpoint {
	return &train.Checkpoint{
		Parts: []train.Part{
			{Name: "model",
				Save: func(dir string) error {
					if err := tr.Model.Save(filepath.Join(dir, "model")); err != nil {
						return err
					}
					if tr.Text != nil {
						return tr.Text.Save(textenc.ModelDir(filepath.Join(dir, "model")))
					}
					return nil
				},
				Load: func(dir string) error {
					path, err := weightio.Find(filepath.Join(dir, "model"), unet.WeightsFiles...)
					if err == nil {
						err = tr.Model.LoadWeights(path)
					}
					if err != nil {
						return err
					}
					if tr.Text != nil {
						t, err := textenc.Load(textenc.ModelDir(filepath.Join(dir, "model")))
						if err != nil {
							return err
						}
						if err := tr.Text.Encoder.Params.CopyFrom(t.Params); err != nil {
							return fmt.Errorf("%s: %w", textenc.ModelDir(filepath.Join(dir, "model")), err)
						}
						tr.Text.Forget()
					}
					return nil
				}},
			train.ParamsPart("ema.npz", tr.EMA.Shadow),
			train.AdamPart("adam.npz", tr.Opt, tr.params),
		},
		State: train.JSONPart("state.json", func() any {
			rng, err := tr.rngSrc.MarshalBinary()
			if err != nil {
				panic(err) // PCG's MarshalBinary cannot fail
			}
			info := tr.dataInfo()
			return trainState{Step: tr.Step, Epoch: tr.Loader.Epoch, Pos: tr.Loader.Pos, RNG: rng,
				AdamSteps: tr.Opt.Steps, EMAUpdates: tr.EMA.Updates, Config: tr.Config, Data: &info}
		}, func(b []byte) error {
			var st trainState
			if err := json.Unmarshal(b, &st); err != nil {
				return err
			}
			return tr.restore(st)
		}),
		Step: func() int { return tr.Step },
		AfterPart: func(name string) error {
			if checkpointFail != "" && strings.HasPrefix(name, checkpointFail) {
				return fmt.Errorf("checkpoint: simulated failure after %s", name)
			}
			return nil
		},
	}
}

// restore sets the trainer's counters, data position and random state
// from a checkpoint's state after checking each: the counters agree with
// the step, the data position is one the loader can continue from and, for
// the data the run was trained on, the very position its steps reach.
func (tr *Trainer) restore(st trainState) error {
	if st.Step < 0 {
		return fmt.Errorf("step %d is negative", st.Step)
	}
	if st.AdamSteps != st.Step || st.EMAUpdates != st.Step {
		return fmt.Errorf("adam_steps %d and ema_updates %d disagree with step %d (each step updates both once)", st.AdamSteps, st.EMAUpdates, st.Step)
	}
	epoch, pos := st.Epoch, st.Pos
	same := st.Data != nil && st.Data.Same(tr.dataInfo())
	if st.Data != nil && !same && (pos < 0 || pos > tr.Data.Len() || pos%tr.Config.BatchSize != 0) {
		pos = 0 // other data, forced: a position past its images starts the epoch afresh
	}
	if err := tr.Loader.Restore(epoch, pos); err != nil {
		return err
	}
	if same {
		if we, wp := tr.Loader.Position(st.Step); epoch != we || pos != wp {
			return fmt.Errorf("data position epoch %d, pos %d disagrees with step %d, which reaches epoch %d, pos %d on %s", epoch, pos, st.Step, we, wp, st.Data)
		}
	}
	if err := tr.rngSrc.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("random state: %w", err)
	}
	tr.Step = st.Step
	tr.Opt.Steps, tr.EMA.Updates = st.AdamSteps, st.EMAUpdates
	return nil
}

// saveCheckpoint writes the trainer's state as the checkpoint of its step.
func (tr *Trainer) saveCheckpoint() error { return tr.checkpoint().Save(tr.Dir, tr.Step) }

// LatestCheckpoint returns the directory of a run's latest checkpoint, or
// an error wrapping fs.ErrNotExist when it has none.
func LatestCheckpoint(runDir string) (string, error) { return train.Latest(runDir) }

// checkpointNames are the files of a complete checkpoint.
var checkpointNames = []string{"model", "ema.npz", "adam.npz", "state.json"}

// readCheckpointState returns the state a checkpoint was saved with, its
// training config validated.
func readCheckpointState(dir string) (trainState, error) {
	path := filepath.Join(dir, "state.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return trainState{}, err
	}
	var st trainState
	if err := json.Unmarshal(b, &st); err != nil {
		return trainState{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := st.Config.Validate(); err != nil {
		return trainState{}, fmt.Errorf("%s: training config: %w", path, err)
	}
	return st, nil
}
