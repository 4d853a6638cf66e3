package nn

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// gorgonia's own matrix products and convolutions run on the toolkit's
// kernels as well.
func init() {
	G.Use(simd.BLAS{})
	tensor.Use(simd.BLAS{})
}
