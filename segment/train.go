package segment

import (
	"encoding/json"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/scenes"
	"github.com/clockwork-go/clockwork/train"
)

// TrainOptions are a training run's settings.
type TrainOptions struct {
	// Steps is the number of training steps, Batch the scenes of each.
	Steps int `json:"steps"`
	Batch int `json:"batch"`
	// LR is Adam's learning-rate schedule.
	LR train.LR `json:"lr"`
	// WeightMap trains on the weight map of Eq. 2 (W0, Sigma); otherwise
	// every pixel weighs 1.
	WeightMap bool    `json:"weight_map"`
	W0        float64 `json:"w0"`
	Sigma     float64 `json:"sigma"`
	// Dice, when positive, adds that multiple of the soft Dice loss
	// (Milletari et al., V-Net, 2016) to the cross-entropy.
	Dice float64 `json:"dice"`
}

// sameRun reports how o differs from the options a checkpoint was
// written with, other than the steps (a resumed run may be extended; its
// cosine schedule is then planned over the new count).
func (o TrainOptions) sameRun(saved TrainOptions) error {
	a, b := o, saved
	a.Steps, b.Steps, a.LR.Steps, b.LR.Steps = 0, 0, 0, 0
	if a != b {
		return fmt.Errorf("the checkpoint was trained with %+v, not %+v: resume with its settings (only the steps may change)", b, a)
	}
	return nil
}

// DefaultTrainOptions are the shipped model's settings: 3000 steps of 8
// scenes, Adam at 1e-3 with 100 warm-up steps and cosine decay, the
// paper's weight map (w0 = 10, σ = 5), cross-entropy alone.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{
		Steps: 3000, Batch: 8,
		LR:        train.LR{Peak: 1e-3, Warmup: 100, Decay: "cosine", Steps: 3000},
		WeightMap: true, W0: 10, Sigma: 5,
	}
}

// Validate reports a setting that cannot train.
func (o TrainOptions) Validate() error {
	switch {
	case o.Steps <= 0:
		return fmt.Errorf("segment: %d steps must be positive", o.Steps)
	case o.Batch <= 0:
		return fmt.Errorf("segment: batch %d must be positive", o.Batch)
	case o.WeightMap && (!(o.W0 >= 0) || !(o.Sigma > 0)):
		return fmt.Errorf("segment: weight map w0 %v and sigma %v: need w0 ≥ 0 and sigma > 0", o.W0, o.Sigma)
	case !(o.Dice >= 0) || math.IsInf(o.Dice, 0):
		return fmt.Errorf("segment: dice weight %v must be a finite non-negative number", o.Dice)
	}
	return o.LR.Validate()
}

// Source is where a trainer draws its scenes: a scenes.Stream.
type Source interface {
	Config() scenes.Config
	Draw(i int, img, sem, inst []uint8) []scenes.Digit
}

// Trainer trains a model on a stream of scenes: step s draws scenes
// s·Batch to (s+1)·Batch − 1 of the stream, so a run's data depend on the
// step alone and a resumed run sees what an uninterrupted one would.
type Trainer struct {
	// Model is the model trained, Opts its settings and Adam its
	// optimiser (whose moments a checkpoint keeps).
	Model  *Model
	Opts   TrainOptions
	Adam   *nn.Adam
	stream Source
	fn     *nn.Func
	// The input window: the output (out ≥ the scene's side) holds the
	// scene in its centre, from off, with mirrored pixels around it that
	// weigh nothing; the input covers it with border pixels more a side.
	in, out, border, off int
	x, labels, weights   []float32
	// sceneLabels are the labels of the scene alone, for the Dice loss
	// under valid padding (nil otherwise: the output is the scene).
	sceneLabels []float32
	// Loss is the last step's loss.
	Loss float64
}

// NewTrainer returns a trainer of m on stream.
func NewTrainer(m *Model, stream Source, opts TrainOptions) (*Trainer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := m.Config
	if c.InChannels != 1 || c.Classes != scenes.Classes {
		return nil, fmt.Errorf("segment: digit scenes have 1 channel and %d classes; the model has %d and %d", scenes.Classes, c.InChannels, c.Classes)
	}
	size := stream.Config().Size
	t := &Trainer{Model: m, Opts: opts, Adam: nn.NewAdam(opts.LR.Peak), stream: stream}
	if c.Valid() {
		t.in = c.InputFor(size)
		t.out, _ = c.fits(t.in)
		t.border = c.Border()
	} else {
		t.in = c.NextInput(size)
		t.out = t.in
	}
	t.off = (t.out - size) / 2
	b := opts.Batch
	t.x = make([]float32, b*t.in*t.in)
	t.labels = make([]float32, b*t.out*t.out)
	t.weights = make([]float32, b*t.out*t.out)
	inputs := [][]int{{b, 1, t.in, t.in}, {b, t.out, t.out}, {b, t.out, t.out}}
	if opts.Dice > 0 && t.out != size {
		t.sceneLabels = make([]float32, b*size*size)
		inputs = append(inputs, []int{b, size, size})
	}
	var err error
	t.fn, err = nn.NewFunc(nn.FuncDef{
		Params: m.Params,
		Frozen: []*nn.Params{m.Buffers},
		Inputs: inputs,
		Grad:   true,
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			z := m.Logits(g, in[0], true)
			loss := nn.WeightedSoftmaxCE2d(z, in[1], in[2])
			if opts.Dice > 0 {
				// The Dice loss counts the scene's pixels alone.
				zd, labels := z, in[1]
				if t.sceneLabels != nil {
					zd, labels = nn.CenterCrop(z, size, size), in[3]
				}
				loss = nn.AddScaled(loss, nn.SoftDiceLoss(zd, labels, 1), float32(opts.Dice))
			}
			return []*G.Node{loss}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Sizes returns the training input's side and the output's.
func (t *Trainer) Sizes() (in, out int) { return t.in, t.out }

// Step trains step number step.
func (t *Trainer) Step(step int) error {
	size := t.stream.Config().Size
	p := size * size
	img, sem, inst := make([]uint8, p), make([]uint8, p), make([]uint8, p)
	b := t.Opts.Batch
	for k := range b {
		t.stream.Draw(step*b+k, img, sem, inst)
		w := make([]float32, p)
		if t.Opts.WeightMap {
			w = WeightMap(inst, size, t.Opts.W0, t.Opts.Sigma)
		} else {
			for j := range w {
				w[j] = 1
			}
		}
		o0 := -t.border - t.off
		mirrorWindow(t.x[k*t.in*t.in:], img, size, size, o0, o0, t.in, intensity)
		lab, wt := t.labels[k*t.out*t.out:], t.weights[k*t.out*t.out:]
		for y := range t.out {
			for xx := range t.out {
				o := y*t.out + xx
				sy, sx := y-t.off, xx-t.off
				lab[o] = float32(sem[reflect(sy, size)*size+reflect(sx, size)])
				wt[o] = 0
				if sy >= 0 && sx >= 0 && sy < size && sx < size {
					wt[o] = w[sy*size+sx]
				}
			}
		}
		if t.sceneLabels != nil {
			for j, v := range sem {
				t.sceneLabels[k*p+j] = float32(v)
			}
		}
	}
	tensors := []*tensor.Dense{
		tensor.New(tensor.WithShape(b, 1, t.in, t.in), tensor.WithBacking(t.x)),
		tensor.New(tensor.WithShape(b, t.out, t.out), tensor.WithBacking(t.labels)),
		tensor.New(tensor.WithShape(b, t.out, t.out), tensor.WithBacking(t.weights)),
	}
	if t.sceneLabels != nil {
		tensors = append(tensors, tensor.New(tensor.WithShape(b, size, size), tensor.WithBacking(t.sceneLabels)))
	}
	if _, err := t.fn.Call(tensors...); err != nil {
		return fmt.Errorf("step %d: %w", step, err)
	}
	t.Loss = t.fn.Scalar(0)
	if math.IsNaN(t.Loss) || math.IsInf(t.Loss, 0) {
		return fmt.Errorf("step %d: the loss is %v", step, t.Loss)
	}
	names, grads := t.fn.Gradients()
	t.Adam.LR = t.Opts.LR.At(step)
	return t.Adam.Update(t.Model.Params, names, grads)
}

// intensity maps an 8-bit pixel to the network's input range [−1, 1].
func intensity(v uint8) float32 { return float32(v)/127.5 - 1 }

// trainState is a checkpoint's state.json.
type trainState struct {
	Step      int    `json:"step"`
	AdamSteps int    `json:"adam_steps"`
	Config    Config `json:"config"`
	// Options are absent from checkpoints written before they were kept.
	Options *TrainOptions `json:"options,omitempty"`
}

// Checkpoint returns the parts of a training checkpoint: the model's
// weights and buffers, Adam's moments, and the state (step, config and
// options, which a resumed run must share but for the steps;
// done returns the step done so far and set restores it).
func (t *Trainer) Checkpoint(done func() int, set func(int)) *train.Checkpoint {
	return &train.Checkpoint{
		Parts: []train.Part{
			train.ParamsPart("model.safetensors", t.Model.All()),
			train.AdamPart("adam.npz", t.Adam, t.Model.Params),
		},
		State: train.JSONPart("state.json", func() any {
			return trainState{Step: done(), AdamSteps: t.Adam.Steps, Config: t.Model.Config, Options: &t.Opts}
		}, func(b []byte) error {
			var s trainState
			if err := json.Unmarshal(b, &s); err != nil {
				return err
			}
			if s.Config != t.Model.Config {
				return fmt.Errorf("the checkpoint's config %+v is not the run's %+v", s.Config, t.Model.Config)
			}
			if s.Options != nil {
				if err := t.Opts.sameRun(*s.Options); err != nil {
					return err
				}
			}
			t.Adam.Steps = s.AdamSteps
			set(s.Step)
			return nil
		}),
		Step: done,
	}
}
