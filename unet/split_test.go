package unet

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// TestSplitDepths: at every depth the model has, ShellIn, Core and ShellOut
// compose to the reference output, r_in and r_out are the taps the split
// names, and their shapes are what RInShape and ROutShape say.
func TestSplitDepths(t *testing.T) {
	for _, name := range fixtures {
		f := loadFixture(t, name)
		m := f.model
		n := len(m.Config.BlockOutChannels)
		for d := 1; d < n; d++ {
			t.Run(fmt.Sprintf("%s/depth%d", name, d), func(t *testing.T) {
				sp, err := m.SplitAt(d)
				if err != nil {
					t.Fatal(err)
				}
				sh, err := sp.ShellIn(f.sample, f.t, f.cond, nil)
				if err != nil {
					t.Fatal(err)
				}
				s := f.sample.Shape()
				if !sh.RIn.Shape().Eq(sp.RInShape(s[0], s[2], s[3])) || !sh.ROutShape().Eq(sp.ROutShape(s[0], s[2], s[3])) {
					t.Errorf("r_in %v r_out %v; split says %v and %v", sh.RIn.Shape(), sh.ROutShape(), sp.RInShape(s[0], s[2], s[3]), sp.ROutShape(s[0], s[2], s[3]))
				}
				if d := maxAbsDiff(t, "r_in", sh.RIn, f.want["tap."+sp.RInTap()]); d > parityTol {
					t.Errorf("r_in differs from %s by %.3g", sp.RInTap(), d)
				}
				rOut, err := m.Core(sh, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(t, "r_out", rOut, f.want["tap."+sp.ROutTap()]); d > parityTol {
					t.Errorf("r_out differs from %s by %.3g", sp.ROutTap(), d)
				}
				out, err := m.ShellOut(sh, rOut, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(t, "output", out, f.want["output"]); d > parityTol {
					t.Errorf("output differs by %.3g", d)
				}
			})
		}
		if _, err := m.SplitAt(n); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("depths 1 to %d", n-1)) {
			t.Errorf("%s: cut at depth %d: %v", name, n, err)
		}
		if _, err := m.SplitAt(0); err == nil {
			t.Errorf("%s: cut at depth 0 accepted", name)
		}
	}
}

// TestStaleShell: a Shell is an error once the model has run another pass.
func TestStaleShell(t *testing.T) {
	f := loadFixture(t, "attn")
	m := f.model
	sh, err := m.ShellIn(f.sample, f.t, f.cond, nil)
	if err != nil {
		t.Fatal(err)
	}
	rOut, err := m.Core(sh, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward(f.sample, f.t, f.cond, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ShellOut(sh, rOut, nil); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("ShellOut on a stale shell: %v", err)
	}
	if _, err := m.Core(sh, nil); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("Core on a stale shell: %v", err)
	}
	sh2, _ := m.ShellIn(f.sample, f.t, f.cond, nil)
	if _, err := m.ShellIn(f.sample, f.t, f.cond, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ShellOut(sh2, tensor.New(tensor.WithShape(sh2.ROutShape()...), tensor.Of(tensor.Float32)), nil); err == nil {
		t.Error("ShellOut on a shell made before another ShellIn accepted")
	}
}

// TestCoreTake: CoreTake gives Core's r_out to the bit without a copy:
// the tensor it returns is not written by the core's next run, which
// writes into the spare handed back; a hook that replaces r_out's tap gets
// its tensor copied into the spare; a spare of another shape is refused.
func TestCoreTake(t *testing.T) {
	f := loadFixture(t, "attn")
	m := f.model
	sp, err := m.SplitAt(1)
	if err != nil {
		t.Fatal(err)
	}
	core := func(ts []float64, take func(sh *Shell) (*tensor.Dense, error)) *tensor.Dense {
		sh, err := sp.ShellIn(f.sample, ts, f.cond, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := take(sh)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	plain := func(sh *Shell) (*tensor.Dense, error) { return m.Core(sh, nil) }
	t1, t2 := f.t, []float64{f.t[0] / 2}
	want1, want2 := core(t1, plain), core(t2, plain)
	if slices.Equal(want1.Float32s(), want2.Float32s()) {
		t.Fatal("two timesteps give the same r_out")
	}
	a := core(t1, func(sh *Shell) (*tensor.Dense, error) { return m.CoreTake(sh, nil, nil) })
	spare := a.Clone().(*tensor.Dense)
	b := core(t2, func(sh *Shell) (*tensor.Dense, error) { return m.CoreTake(sh, spare, nil) })
	if !slices.Equal(a.Float32s(), want1.Float32s()) || !slices.Equal(b.Float32s(), want2.Float32s()) {
		t.Fatal("CoreTake's r_out differs from Core's, or a later run wrote over a taken one")
	}
	c := core(t1, func(sh *Shell) (*tensor.Dense, error) { return m.CoreTake(sh, a, nil) })
	if c != spare || !slices.Equal(c.Float32s(), want1.Float32s()) || !slices.Equal(b.Float32s(), want2.Float32s()) {
		t.Fatal("the spare handed back did not receive the next run's r_out")
	}
	// A hook that replaces r_out: its values, copied into the spare.
	replace := func(name string, x *tensor.Dense) (*tensor.Dense, error) {
		if name != sp.ROutTap() {
			return x, nil
		}
		y := x.Clone().(*tensor.Dense)
		for i, v := range y.Float32s() {
			y.Float32s()[i] = 2 * v
		}
		return y, nil
	}
	own := tensor.New(tensor.WithShape(want1.Shape()...), tensor.Of(tensor.Float32))
	d := core(t1, func(sh *Shell) (*tensor.Dense, error) { return m.CoreTake(sh, own, replace) })
	doubled := slices.Clone(want1.Float32s())
	for i := range doubled {
		doubled[i] *= 2
	}
	if d != own || !slices.Equal(d.Float32s(), doubled) {
		t.Fatal("a replaced r_out was not copied into the spare")
	}
	sh, err := sp.ShellIn(f.sample, t1, f.cond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CoreTake(sh, tensor.New(tensor.WithShape(1, 2, 3), tensor.Of(tensor.Float32)), nil); err == nil {
		t.Error("a spare of another shape accepted")
	}
}

// TestSplitCost: the cost of the core at each depth is the sum of its
// blocks, and a deeper cut leaves a smaller core.
func TestSplitCost(t *testing.T) {
	m := mnistModel(t, "mnist")
	c := m.Cost(32, 32)
	_, total := c.Total()
	s1, _ := m.SplitAt(1)
	s2, _ := m.SplitAt(2)
	shell1, core1 := s1.Cost(c)
	shell2, core2 := s2.Cost(c)
	_, d2 := c.Prefix("down_blocks.2")
	_, mid := c.Prefix("mid_block")
	_, u0 := c.Prefix("up_blocks.0")
	if core2 != d2+mid+u0 {
		t.Errorf("depth-2 core %d is not down_blocks.2 + mid + up_blocks.0 = %d", core2, d2+mid+u0)
	}
	if shell1+core1 != total || shell2+core2 != total || !(core2 < core1) {
		t.Errorf("depth 1: %d+%d, depth 2: %d+%d, total %d", shell1, core1, shell2, core2, total)
	}
	if s1.RInTap() != "down_blocks.0" || s1.ROutTap() != "up_blocks.1" || s2.RInTap() != "down_blocks.1" || s2.ROutTap() != "up_blocks.0" {
		t.Errorf("taps %s %s %s %s", s1.RInTap(), s1.ROutTap(), s2.RInTap(), s2.ROutTap())
	}
	t.Logf("mnist: shell %.1f%% at depth 1, %.1f%% at depth 2", 100*float64(shell1)/float64(total), 100*float64(shell2)/float64(total))
}

// TestTapInfos: every tap's shape is the shape a forward pass shows it with.
func TestTapInfos(t *testing.T) {
	f := loadFixture(t, "classcond")
	m := f.model
	s := f.sample.Shape()
	seen := map[string]tensor.Shape{}
	if _, err := m.Forward(f.sample, f.t, f.cond, func(tap string, x *tensor.Dense) (*tensor.Dense, error) {
		seen[tap] = x.Shape().Clone()
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	infos := m.TapInfos(s[2], s[3])
	if len(infos) != len(m.Taps()) {
		t.Fatalf("%d infos for %d taps", len(infos), len(m.Taps()))
	}
	for i, ti := range infos {
		if ti.Name != m.Taps()[i] || !seen[ti.Name].Eq(tensor.Shape{s[0], ti.C, ti.H, ti.W}) {
			t.Errorf("%+v: forward shows %v", ti, seen[ti.Name])
		}
	}
	if infos[1].WorkH != s[2] || infos[len(infos)-1].WorkH != s[2] {
		t.Errorf("working resolutions %+v", infos)
	}
}
