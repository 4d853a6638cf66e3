package captions

import (
	"fmt"

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
	// ValSeed draws the validation split: MNIST's training digits with
	// other layouts and captions than the train split's, where a model's
	// sampling settings (its guidance scale) are chosen, so that the test
	// split stays unseen until the one measurement that is reported.
	ValSeed = 3
)

// OpenSplit returns the first n captioned digits of a split as
// datasets.Open makes it: "train" (seed TrainSeed), "test" (TestSeed, MNIST's
// test digits) or "val" (ValSeed, MNIST's training digits); n ≤ 0 is the
// split's default count (60000 for train, 10000 otherwise).
func OpenSplit(split string, n int) (*Set, error) {
	var seed uint64
	digits, def := split, 10000
	switch split {
	case "train":
		seed, def = TrainSeed, 60000
	case "test":
		seed = TestSeed
	case "val":
		seed, digits = ValSeed, "train"
	default:
		return nil, fmt.Errorf("captions: split %q is not train, val or test", split)
	}
	if n <= 0 {
		n = def
	}
	return Open(digits, n, seed)
}

// openData opens "captions[:N]": N captioned digits (default 60000 for the
// train split, 10000 for the test and val splits) with their captions.
func openData(arg, split string) (*datasets.Images, error) {
	n, err := datasets.ParseCount(arg, 0)
	if err != nil {
		return nil, err
	}
	s, err := OpenSplit(split, n)
	if err != nil {
		return nil, err
	}
	return s.Images, nil
}
