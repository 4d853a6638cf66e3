package distill

import (
	"fmt"

	"gorgonia.org/tensor"
)

// identityKind reuses the previous step's r_out as it is: the
// training-free adaptor of the official Clockwork code, and DeepCache's
// feature reuse (Ma et al., CVPR 2024) at the cut's depth.
var identityKind = Kind{Name: "identity", UsesPrev: true,
	New: func(b *AdaptorBase, _ uint64) (Adaptor, error) { return &Identity{AdaptorBase: b}, nil }}

// Identity is the identity adaptor: r_out_t = r_out_{t+1}.
type Identity struct{ *AdaptorBase }

// Apply implements Adaptor; it returns the previous step's r_out itself.
func (a *Identity) Apply(in Inputs) (*tensor.Dense, error) {
	if in.ROutPrev == nil {
		return nil, fmt.Errorf("identity adaptor at step %d: no previous step's r_out", in.Step+1)
	}
	return in.ROutPrev, nil
}

// FLOPs implements Adaptor: none.
func (a *Identity) FLOPs() int64 { return 0 }
