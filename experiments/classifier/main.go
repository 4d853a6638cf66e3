// Command classifier trains the MNIST classifier of package metrics and
// writes its weights, reproducing the shipped ones:
//
//	go run ./experiments/classifier
//
// It reports the test accuracy at the end.
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/classifier"
)

func main() { cli.Main(classifier.Run) }
