package distill

import (
	"fmt"

	"gorgonia.org/tensor"
)

// oracleKind runs the real core: Clockwork with it is the teacher, bit for
// bit (a test of the machinery).
var oracleKind = Kind{Name: "oracle",
	New: func(b *AdaptorBase, _ uint64) (Adaptor, error) { return &Oracle{AdaptorBase: b}, nil }}

// Oracle is the adaptor that runs the teacher's own core on the shell.
type Oracle struct{ *AdaptorBase }

// Apply implements Adaptor.
func (a *Oracle) Apply(in Inputs) (*tensor.Dense, error) {
	if in.Shell == nil {
		return nil, fmt.Errorf("oracle adaptor: no shell")
	}
	return a.Teacher.Core(in.Shell, nil)
}

// FLOPs implements Adaptor: the core's.
func (a *Oracle) FLOPs() int64 {
	h, w, _ := a.Teacher.Config.SampleHW()
	_, core := a.Cut.Cost(a.Teacher.Cost(h, w))
	return core
}
