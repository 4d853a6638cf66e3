package edits

import (
	"fmt"
	"strconv"

	"github.com/clockwork-go/clockwork/datasets"
)

// The data kind this package registers with datasets.Open.
const DataKind = "edits"

func init() {
	if err := datasets.Register(DataKind, openData); err != nil {
		panic(err)
	}
}

// Seeds of the splits as datasets.Open makes them: the train split draws
// its digits from MNIST's training images and TrainMix's instructions, the
// test split from its test images and TestMix's (the held-out
// instructions among them), each with its own seed.
const (
	TrainSeed = 1
	TestSeed  = 2
)

// OpenSplit returns the pairs datasets.Open gives for "edits:N" (n ≤ 0:
// the default count) and split.
func OpenSplit(split string, n int) (*Set, error) {
	seed, mix, def := uint64(TrainSeed), TrainMix, 60000
	if split == "test" {
		seed, mix, def = TestSeed, TestMix, 10000
	}
	if n <= 0 {
		n = def
	}
	return Open(split, n, seed, mix)
}

// openData opens "edits[:N]": N edit pairs (default 60000 for the train
// split, 10000 for the test split), the true edits as the images, their
// instructions as captions and the sources as inputs.
func openData(arg, split string) (*datasets.Images, error) {
	n := 0
	if arg != "" {
		v, err := strconv.Atoi(arg)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad count %q", arg)
		}
		n = v
	}
	s, err := OpenSplit(split, n)
	if err != nil {
		return nil, err
	}
	return s.Data, nil
}
