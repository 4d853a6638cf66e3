package unet

import (
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// BenchmarkSplitHalves times the two parts of the reference MNIST U-Net cut
// at depth 1 (the Clockwork split) on a batch of 100: "core" runs the
// low-resolution core (down_blocks[1:], the mid block, up_blocks[:-1]) on a
// kept shell, taking r_out as Clockwork does (CoreTake), "shell" the high-resolution shell around it (conv_in,
// down_blocks[0], then up_blocks[-1] and the head, as on a Clockwork
// adaptor step with the identity adaptor). Each reports its FLOPs per
// sample, so their costs per FLOP can be compared; -cpuprofile shows where
// each spends its time. "ratio" runs the two alternately, one after the
// other in every iteration, and reports the shell's time per FLOP over the
// core's: a machine whose speed drifts (a shared one) slows both alike.
func BenchmarkSplitHalves(b *testing.B) {
	cfg, err := ConfigFrom("mnist")
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(cfg, 0)
	if err != nil {
		b.Fatal(err)
	}
	const n = 100
	x := tensor.New(tensor.WithShape(n, 1, 32, 32), tensor.Of(tensor.Float32))
	for i, v := 0, x.Float32s(); i < len(v); i++ {
		v[i] = float32(i%61)/30 - 1
	}
	labels := make([]int64, n)
	sp, err := m.SplitAt(1)
	if err != nil {
		b.Fatal(err)
	}
	shell, core := sp.Cost(m.Cost(32, 32))
	// prepare runs the shell's first half and the core once: a kept shell
	// and the core's output buffer.
	prepare := func(b *testing.B) (*Shell, *tensor.Dense) {
		sh, err := sp.ShellIn(x, []float64{999}, Cond{Labels: labels}, nil)
		if err != nil {
			b.Fatal(err)
		}
		buf, err := m.Core(sh, nil)
		if err != nil {
			b.Fatal(err)
		}
		return sh, buf
	}
	b.Run("core", func(b *testing.B) {
		sh, buf := prepare(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if buf, err = m.CoreTake(sh, buf, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(core)/1e9, "GFLOPs/sample")
	})
	b.Run("shell", func(b *testing.B) {
		sh, rOut := prepare(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if sh, err = sp.ShellIn(x, []float64{874}, Cond{Labels: labels}, nil); err != nil {
				b.Fatal(err)
			}
			if _, err := m.ShellOut(sh, rOut, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(shell)/1e9, "GFLOPs/sample")
	})
	b.Run("ratio", func(b *testing.B) {
		sh, buf := prepare(b)
		var tc, ts time.Duration
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if buf, err = m.CoreTake(sh, buf, nil); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if sh, err = sp.ShellIn(x, []float64{874}, Cond{Labels: labels}, nil); err != nil {
				b.Fatal(err)
			}
			if _, err := m.ShellOut(sh, buf, nil); err != nil {
				b.Fatal(err)
			}
			tc += t1.Sub(t0)
			ts += time.Since(t1)
		}
		b.ReportMetric((ts.Seconds()/float64(shell))/(tc.Seconds()/float64(core)), "shell/core-per-FLOP")
	})
}
