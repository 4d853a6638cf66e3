package captions

import (
	"fmt"
	"strconv"

	"github.com/clockwork-go/clockwork/datasets"
)

// The data kind this package registers with datasets.Open.
const DataKind = "captions"

func init() {
	if err := datasets.Register(DataKind, openData); err != nil {
		panic(err)
	}
}

// Seeds of the splits as datasets.Open makes them: the train split draws
// its digits from MNIST's training images, the test split from its test
// images, each with its own seed.
const (
	TrainSeed = 1
	TestSeed  = 2
)

// openData opens "captions[:N]": N captioned digits (default 60000 for the
// train split, 10000 for the test split) with their captions.
func openData(arg, split string) (*datasets.Images, error) {
	n, seed := 60000, uint64(TrainSeed)
	if split == "test" {
		n, seed = 10000, TestSeed
	}
	if arg != "" {
		v, err := strconv.Atoi(arg)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad count %q", arg)
		}
		n = v
	}
	s, err := Open(split, n, seed)
	if err != nil {
		return nil, err
	}
	return s.Images, nil
}
