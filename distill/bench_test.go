package distill

import (
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/unet"
)

// BenchmarkResNetAdaptor times one adaptor call on a batch of 100 for the
// reference MNIST config (random weights).
func BenchmarkResNetAdaptor(b *testing.B) {
	cfg, err := unet.ConfigFrom("mnist")
	if err != nil {
		b.Fatal(err)
	}
	m, err := unet.New(cfg, 0)
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(m, Spec{Kind: "resnet", Depth: 1, Steps: 8}, 1)
	if err != nil {
		b.Fatal(err)
	}
	const n = 100
	ri, ro := a.RInShape(), a.ROutShape()
	in := Inputs{
		RIn:      tensor.New(tensor.WithShape(n, ri[0], ri[1], ri[2]), tensor.Of(tensor.Float32)),
		ROutPrev: tensor.New(tensor.WithShape(n, ro[0], ro[1], ro[2]), tensor.Of(tensor.Float32)),
		Emb:      tensor.New(tensor.WithShape(n, m.Config.TimeEmbedDim()), tensor.Of(tensor.Float32)),
		Labels:   make([]int64, n),
		Step:     1,
	}
	if _, err := a.Apply(in); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Apply(in); err != nil {
			b.Fatal(err)
		}
	}
}
