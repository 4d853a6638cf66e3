package edits

import (
	"fmt"
	"strings"

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
	// ValSeed draws the validation split: MNIST's training digits (other
	// pairs than the train split's) with TestMix's instructions, the held
	// out ones among them: where an editor's scales are chosen, so that
	// the test split stays unseen.
	ValSeed = 3
)

// TrainPairs is the number of pairs of the train split as the trainer
// reads it ("edits"); the test and validation splits hold 10,000.
const TrainPairs = 60000

// OpenSplit returns the pairs datasets.Open gives for "edits:N" (n ≤ 0:
// the default count) and split ("train" or "test"), or the validation
// split ("val", ValSeed). Another split is an error.
func OpenSplit(split string, n int) (*Set, error) {
	return openSplit(split, n, false)
}

// openSplit is OpenSplit; with clauses, the train split draws ClauseMix's
// one-change instructions instead of TrainMix's (the held-out splits stay
// TestMix's, what an editor is measured on).
func openSplit(split string, n int, clauses bool) (*Set, error) {
	seed, mix, def, digits := uint64(TrainSeed), TrainMix, TrainPairs, split
	if clauses && split == "train" {
		mix = ClauseMix
	}
	switch split {
	case "train":
	case "test":
		seed, mix, def = TestSeed, TestMix, 10000
	case "val":
		seed, mix, def, digits = ValSeed, TestMix, 10000, "train"
	default:
		return nil, fmt.Errorf("edits: split %q is not train, val or test", split)
	}
	if n <= 0 {
		n = def
	}
	return Open(digits, n, seed, mix)
}

// ClauseData is the suffix of a data spec ("edits:one", "edits:N:one")
// whose train split draws one-change instructions only (ClauseMix).
const ClauseData = "one"

// openData opens "edits[:N][:one]": N edit pairs (default 60000 for the
// train split, 10000 for the test split), the true edits as the images,
// their instructions as captions and the sources as inputs; with "one",
// the train split's instructions are ClauseMix's. "edits:chained:FILE"
// adds FILE's chained pairs to the train split (ChainedData).
func openData(arg, split string) (*datasets.Images, error) {
	if path, ok := chainedArg(arg); ok {
		return openChained(path, split, 0)
	}
	clauses := false
	if arg == ClauseData {
		arg, clauses = "", true
	} else if a, ok := strings.CutSuffix(arg, ":"+ClauseData); ok {
		arg, clauses = a, true
	}
	n, err := datasets.ParseCount(arg, 0)
	if err != nil {
		return nil, err
	}
	s, err := openSplit(split, n, clauses)
	if err != nil {
		return nil, err
	}
	return s.Data, nil
}
