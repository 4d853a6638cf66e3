package distill

import (
	"fmt"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/unet"
)

// referenceModel returns the reference MNIST U-Net with random weights.
func referenceModel(b *testing.B) *unet.Model {
	b.Helper()
	cfg, err := unet.ConfigFrom("mnist")
	if err != nil {
		b.Fatal(err)
	}
	m, err := unet.New(cfg, 0)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkResNetAdaptor times one adaptor call for the reference MNIST
// config (random weights) on batches of 8, 25 and 100 rows, and reports
// the time per row.
func BenchmarkResNetAdaptor(b *testing.B) {
	m := referenceModel(b)
	a, err := New(m, AdaptorConfig{Kind: "resnet", Depth: 1, Steps: 8}, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{8, 25, 100} {
		b.Run(fmt.Sprintf("batch%d", n), func(b *testing.B) {
			ri, ro := a.Base().RIn, a.Base().ROut
			in := Inputs{
				RIn:      tensor.New(tensor.WithShape(n, ri[0], ri[1], ri[2]), tensor.Of(tensor.Float32)),
				ROutPrev: tensor.New(tensor.WithShape(n, ro[0], ro[1], ro[2]), tensor.Of(tensor.Float32)),
				Emb:      tensor.New(tensor.WithShape(n, m.Config.TimeEmbedDim()), tensor.Of(tensor.Float32)),
				Cond:     diffusion.Labels(make([]int64, n)),
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
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/row")
		})
	}
}

// BenchmarkClockworkSteps times one full step and one following step of a
// Clockwork denoiser on a batch of 100 for the reference MNIST config
// (random weights), against two steps of the plain U-Net: "plain" is
// diffusion.ModelDenoiser, "clock1" Clockwork with no adaptor step (the
// split U-Net's own cost), "identity" and "resnet" clock 2 (the second step
// an adaptor step). Each sub-benchmark reports the FLOPs of its two steps
// per sample, so that the wall-time ratios can be read against the FLOPs
// ratios. This machine's speed drifts: compare sub-benchmarks of one run,
// and run the command several times.
func BenchmarkClockworkSteps(b *testing.B) {
	m := referenceModel(b)
	const n = 100
	x := tensor.New(tensor.WithShape(n, 1, 32, 32), tensor.Of(tensor.Float32))
	for i, v := 0, x.Float32s(); i < len(v); i++ {
		v[i] = float32(i%61)/30 - 1
	}
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(i % 10)
	}
	ts := []float64{999, 874}
	_, full := m.Cost(32, 32).Total()
	cases := []struct {
		name, kind string
		clock      int
	}{{"plain", "", 0}, {"clock1", "identity", 1}, {"identity", "identity", 2}, {"resnet", "resnet", 2}}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var d diffusion.Denoiser = &diffusion.ModelDenoiser{Model: m}
			flops := 2 * float64(full)
			if c.kind != "" {
				a, err := New(m, AdaptorConfig{Kind: c.kind, Depth: 1, Steps: 8}, 1)
				if err != nil {
					b.Fatal(err)
				}
				s, err := ClockN(c.clock, 8)
				if err != nil {
					b.Fatal(err)
				}
				cw, err := NewClockwork(m, a, s)
				if err != nil {
					b.Fatal(err)
				}
				d = cw
				flops = float64(cw.StepFLOPs(0, 32, 32) + cw.StepFLOPs(1, 32, 32))
			}
			steps := func() {
				for i, t := range ts {
					if st, ok := d.(diffusion.Stepper); ok {
						if err := st.BeginStep(diffusion.StepInfo{Index: i, Steps: 8, T: t}); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := d.Predict(x, t, diffusion.Labels(labels)); err != nil {
						b.Fatal(err)
					}
				}
			}
			steps()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				steps()
			}
			b.ReportMetric(flops/1e9, "GFLOPs/sample")
		})
	}
}
