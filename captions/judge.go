package captions

import (
	"fmt"
	"sync"
)

// CalibrationImages is how many images of the train split DefaultMeasurer
// calibrates on.
const CalibrationImages = 5000

var defaultMeasurer struct {
	once sync.Once
	m    *Measurer
	err  error
}

// DefaultMeasurer returns the measurer the toolkit judges prompts with:
// calibrated on the first CalibrationImages images of the train split as
// datasets.Open makes it (seed TrainSeed, MNIST's training digits), so
// that it never sees the test split's images. It is computed once per
// process (a few seconds) and deterministic.
func DefaultMeasurer() (*Measurer, error) {
	d := &defaultMeasurer
	d.once.Do(func() {
		set, err := Open("train", CalibrationImages, TrainSeed)
		if err != nil {
			d.err = err
			return
		}
		d.m, d.err = Calibrate(set)
	})
	return d.m, d.err
}

// Judgement is the prompt adherence of generated images beside its
// ceiling: real images of the split the prompts came from, measured
// against their own captions.
type Judgement struct {
	Samples Report `json:"samples"`
	Ceiling Report `json:"real_ceiling"`
}

// Judge measures the prompt adherence of n generated images (n·32·32
// values in [−1, 1]) to their prompts (one caption per image), and of the
// first n images of split ("test", "val" or "train", OpenSplit) to their
// own captions, the ceiling, with the default measurer and reps bootstrap
// resamples from seed. A caption the grammar does not read is an error
// naming it.
func Judge(images []float32, captions []string, split string, reps int, seed uint64) (Judgement, error) {
	n := len(captions)
	prompts := make([]Prompt, n)
	for i, c := range captions {
		p, err := Parse(c)
		if err != nil {
			return Judgement{}, fmt.Errorf("prompt %d: %w", i, err)
		}
		prompts[i] = p
	}
	m, err := DefaultMeasurer()
	if err != nil {
		return Judgement{}, err
	}
	var j Judgement
	if j.Samples, err = Adherence(m, images, n, prompts, reps, seed); err != nil {
		return Judgement{}, err
	}
	real, err := OpenSplit(split, n)
	if err != nil {
		return Judgement{}, err
	}
	x := make([]float32, n*Side*Side)
	real.Images.Batch(seq(n), x, nil)
	if j.Ceiling, err = Adherence(m, x, n, real.Prompts, reps, seed); err != nil {
		return Judgement{}, err
	}
	return j, nil
}

// TestCaptions returns the first n captions of the test split, the
// prompts an evaluation draws by default: their distribution is the
// data's, so FID against the test images measures the samples as a set.
func TestCaptions(n int) ([]string, error) { return SplitCaptions("test", n) }

// SplitCaptions returns the first n captions of a split (OpenSplit): the
// val split's are where a guidance scale is chosen, the test split's
// where it is then measured once.
func SplitCaptions(split string, n int) ([]string, error) {
	if n <= 0 {
		return nil, fmt.Errorf("captions: %d captions: the number must be positive", n)
	}
	s, err := OpenSplit(split, n)
	if err != nil {
		return nil, err
	}
	return s.Captions, nil
}
