package diffusion

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clockwork-go/clockwork/train"
	"github.com/clockwork-go/clockwork/unet"
)

// A diffusion run's checkpoint (train.Checkpoint) holds model/ (config.json,
// model.npz), ema.npz, adam.npz (first and second moments) and state.json
// (step, data order, random state, optimiser counters, training config).

// trainState is the part of a checkpoint that is not arrays.
type trainState struct {
	Step       int         `json:"step"`
	Epoch      int         `json:"epoch"`
	Pos        int         `json:"pos"`
	RNG        []byte      `json:"rng"`
	AdamSteps  int         `json:"adam_steps"`
	EMAUpdates int         `json:"ema_updates"`
	Config     TrainConfig `json:"config"`
}

// checkpointFail, when set by a test, makes checkpoint writing fail after the
// part whose name starts with it, as a process killed midway would leave it.
var checkpointFail string

// checkpoint returns the parts of the trainer's checkpoints.
func (tr *Trainer) checkpoint() *train.Checkpoint {
	return &train.Checkpoint{
		Parts: []train.Part{
			{Name: "model",
				Save: func(dir string) error { return tr.Model.Save(filepath.Join(dir, "model")) },
				Load: func(dir string) error { return tr.Model.LoadWeights(filepath.Join(dir, "model", unet.WeightsFile)) }},
			train.ParamsPart("ema.npz", tr.EMA.Shadow),
			train.AdamPart("adam.npz", tr.Opt, tr.Model.Params),
		},
		State: train.JSONPart("state.json", func() any {
			rng, err := tr.rngSrc.MarshalBinary()
			if err != nil {
				panic(err) // PCG's MarshalBinary cannot fail
			}
			return trainState{Step: tr.Step, Epoch: tr.Loader.Epoch, Pos: tr.Loader.Pos, RNG: rng,
				AdamSteps: tr.Opt.Steps, EMAUpdates: tr.EMA.Updates, Config: tr.Config}
		}, func(b []byte) error {
			var st trainState
			if err := json.Unmarshal(b, &st); err != nil {
				return err
			}
			if err := tr.rngSrc.UnmarshalBinary(st.RNG); err != nil {
				return fmt.Errorf("random state: %w", err)
			}
			tr.Step, tr.Loader.Epoch, tr.Loader.Pos = st.Step, st.Epoch, st.Pos
			tr.Opt.Steps, tr.EMA.Updates = st.AdamSteps, st.EMAUpdates
			return nil
		}),
		AfterPart: func(name string) error {
			if checkpointFail != "" && strings.HasPrefix(name, checkpointFail) {
				return fmt.Errorf("checkpoint: simulated failure after %s", name)
			}
			return nil
		},
	}
}

// saveCheckpoint writes the trainer's state as the checkpoint of its step.
func (tr *Trainer) saveCheckpoint() error { return tr.checkpoint().Save(tr.Dir, tr.Step) }

// LatestCheckpoint returns the directory of a run's latest checkpoint, or
// an error wrapping fs.ErrNotExist when it has none.
func LatestCheckpoint(runDir string) (string, error) { return train.Latest(runDir) }

// readCheckpointConfig returns the training config a checkpoint was saved
// with.
func readCheckpointConfig(dir string) (TrainConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return TrainConfig{}, err
	}
	var st trainState
	if err := json.Unmarshal(b, &st); err != nil {
		return TrainConfig{}, fmt.Errorf("%s: %w", filepath.Join(dir, "state.json"), err)
	}
	return st.Config, nil
}
