package unet

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/simd"
	"github.com/clockwork-go/clockwork/nn"
)

// The fixtures in testdata come from scripts/reference/make_unet_fixtures.py
// and make_unet_cond_fixtures.py: independent PyTorch implementations of
// UNet2DModel and UNet2DConditionModel written from diffusers' sources,
// evaluated in float64 on random float32 weights. The cond-* fixtures
// attend to text (encoder_hidden_states) under a mask: linear projections
// and two transformer layers (cond-linear), class labels beside the text
// (cond-class), eight input channels (cond-8ch), a "projection" class
// embedding of a class_labels vector (cond-proj, a guidance-distilled
// editor's layout).
var fixtures = []string{"attn", "classcond", "layers2", "nomid", "cond-linear", "cond-class", "cond-8ch", "cond-proj"}

const parityTol = 1e-4

type fixture struct {
	dir    string
	model  *Model
	sample *tensor.Dense
	t      []float64
	cond   Cond
	want   map[string]npzio.Array
}

func loadFixture(t *testing.T, name string) *fixture {
	t.Helper()
	dir := filepath.Join("testdata", name)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	in, err := npzio.Read(filepath.Join(dir, "input.npz"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npzio.Read(filepath.Join(dir, "output.npz"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, model: m, want: want}
	s := in["sample"]
	f.sample = tensor.New(tensor.WithShape(s.Shape...), tensor.WithBacking(s.F32))
	for _, v := range in["timestep"].I64 {
		f.t = append(f.t, float64(v))
	}
	if l, ok := in["class_labels"]; ok {
		if l.I64 != nil {
			f.cond.Labels = l.I64
		} else {
			f.cond.ClassVector = l.Floats()
		}
	}
	if e, ok := in["encoder_hidden_states"]; ok {
		f.cond.Text = tensor.New(tensor.WithShape(e.Shape...), tensor.WithBacking(e.F32))
	}
	if a, ok := in["encoder_attention_mask"]; ok {
		f.cond.TextMask = a.Floats()
	}
	return f
}

func maxAbsDiff(t *testing.T, what string, got *tensor.Dense, want npzio.Array) float64 {
	t.Helper()
	if !got.Shape().Eq(tensor.Shape(want.Shape)) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape)
	}
	var d float64
	for i, v := range got.Data().([]float32) {
		d = math.Max(d, math.Abs(float64(v)-float64(want.F32[i])))
	}
	return d
}

func TestParityForward(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, name)
			taps := map[string]*tensor.Dense{}
			out, err := f.model.Forward(f.sample, f.t, f.cond, func(tap string, x *tensor.Dense) (*tensor.Dense, error) {
				taps[tap] = x.Clone().(*tensor.Dense)
				return nil, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbsDiff(t, "output", out, f.want["output"])
			t.Logf("%s: output max abs diff %.3g", name, d)
			if d > parityTol {
				t.Errorf("output differs from the reference by %.3g > %g", d, parityTol)
			}
			if len(taps) != len(f.model.Taps()) {
				t.Errorf("hook saw %d taps, want %d (%v)", len(taps), len(f.model.Taps()), f.model.Taps())
			}
			for _, tap := range f.model.Taps() {
				w, ok := f.want["tap."+tap]
				if !ok {
					t.Fatalf("fixture has no tap %s", tap)
				}
				if d := maxAbsDiff(t, tap, taps[tap], w); d > parityTol {
					t.Errorf("tap %s differs from the reference by %.3g", tap, d)
				}
			}
			// A second call reuses the compiled graphs and must agree exactly.
			again, err := f.model.Forward(f.sample, f.t, f.cond, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(t, "again", again, npzio.Float32(out.Data().([]float32), out.Shape()...)); d != 0 {
				t.Errorf("second forward differs by %g", d)
			}
		})
	}
}

func TestParityShellCore(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, name)
			m := f.model
			sh, err := m.ShellIn(f.sample, f.t, f.cond, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(t, "r_in", sh.RIn, f.want["tap.down_blocks.0"]); d > parityTol {
				t.Errorf("r_in differs from down_blocks.0 by %.3g", d)
			}
			rOut, err := m.Core(sh, nil)
			if err != nil {
				t.Fatal(err)
			}
			last := fmt.Sprintf("tap.up_blocks.%d", len(m.Config.BlockOutChannels)-2)
			if d := maxAbsDiff(t, "r_out", rOut, f.want[last]); d > parityTol {
				t.Errorf("r_out differs from %s by %.3g", last, d)
			}
			out, err := m.ShellOut(sh, rOut, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(t, "output", out, f.want["output"]); d > parityTol {
				t.Errorf("shell+core output differs by %.3g", d)
			}
			// Substituting r_out changes the output; the cached r_out restores it.
			zero := tensor.New(tensor.WithShape(sh.ROutShape()...), tensor.Of(tensor.Float32))
			other, err := m.ShellOut(sh, zero, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(t, "substituted", other, f.want["output"]); d < 1e-3 {
				t.Errorf("zero r_out left the output unchanged (diff %.3g)", d)
			}
			again, err := m.ShellOut(sh, rOut, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(t, "again", again, f.want["output"]); d > parityTol {
				t.Errorf("cached r_out gives output differing by %.3g", d)
			}
		})
	}
}

// TestParityGradients compares the gradient of sum(output ⊙ r) with respect to
// every parameter with PyTorch's autograd on the same model, with and
// without memory planning.
func TestParityGradients(t *testing.T) {
	for _, name := range gradFixtures {
		for _, planned := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/planned=%t", name, planned), func(t *testing.T) { parityGradients(t, name, planned) })
		}
	}
}

// gradFixtures are the fixtures with reference gradients (grad.npz); a
// UNet2DConditionModel's include the gradient with respect to the text.
var gradFixtures = []string{"attn", "cond-linear", "cond-proj"}

func parityGradients(t *testing.T, name string, planned bool) {
	f := loadFixture(t, name)
	m := f.model
	gr, err := npzio.Read(filepath.Join(f.dir, "grad.npz"))
	if err != nil {
		t.Fatal(err)
	}
	g := nn.NewGraph(m.Params)
	s := f.sample.Shape()
	var x, tp, rIn, out *G.Node
	var text *TextNodes
	type binding struct {
		n *G.Node
		t *tensor.Dense
	}
	var binds []binding
	err = nn.Build(func() error {
		x = g.Input("x", s...)
		tp = g.Input("tproj", s[0], m.Config.BlockOutChannels[0])
		binds = append(binds, binding{x, f.sample}, binding{tp, m.TimeProj(f.t)})
		if f.cond.Text != nil {
			ts := f.cond.Text.Shape()
			text = &TextNodes{Tokens: g.Input("text", ts[0]*ts[1], ts[2]), Bias: g.Input("bias", ts[0], ts[1])}
			tok := tensor.New(tensor.WithShape(ts[0]*ts[1], ts[2]), tensor.WithBacking(f.cond.Text.Float32s()))
			bias := tensor.New(tensor.WithShape(ts[0], ts[1]), tensor.WithBacking(nn.TextBias(f.cond.TextMask, ts[0], ts[1])))
			binds = append(binds, binding{text.Tokens, tok}, binding{text.Bias, bias})
		}
		var cls *G.Node
		if f.cond.ClassVector != nil {
			k := m.Config.ClassProjection()
			cls = g.Input("class", s[0], k)
			binds = append(binds, binding{cls, tensor.New(tensor.WithShape(s[0], k), tensor.WithBacking(f.cond.ClassVector))})
		}
		out = m.Graph(g, x, tp, cls, text)
		rIn = g.Input("r", out.Shape()...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	loss := nn.Dot(out, rIn)
	names, wrt := g.UsedParams()
	if text != nil {
		// The gradient reaches the text encoder through the tokens.
		names, wrt = append(names, "encoder_hidden_states"), append(wrt, text.Tokens)
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	r := gr["r"]
	binds = append(binds, binding{rIn, tensor.New(tensor.WithShape(r.Shape...), tensor.WithBacking(r.F32))})
	for _, b := range binds {
		if err := nn.Let(b.n, b.t); err != nil {
			t.Fatal(err)
		}
	}
	var mc *nn.Machine
	if planned {
		mc, err = g.CompilePlanned(append(G.Nodes{out}, grads...)...)
	} else {
		mc, err = g.Compile()
	}
	if err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 2; run++ { // a second run must give the same values
		if err := mc.Run(); err != nil {
			t.Fatal(err)
		}
	}
	if d := maxAbsDiff(t, "output", nn.Value(out), f.want["output"]); d > parityTol {
		t.Errorf("training graph output differs by %.3g", d)
	}
	np := len(names)
	if text != nil {
		np--
	}
	if np != m.Params.Len() {
		t.Errorf("gradients for %d parameters, model has %d", np, m.Params.Len())
	}
	for i, n := range names {
		want, ok := gr["grad."+n]
		if !ok {
			t.Fatalf("fixture has no gradient for %s", n)
		}
		got := nn.Value(grads[i])
		if n == "encoder_hidden_states" {
			want.Shape = []int(got.Shape())
		}
		var scale float64
		for _, v := range want.F32 {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		if d := maxAbsDiff(t, n, got, want); d > 1e-4*math.Max(scale, 1) {
			t.Errorf("gradient of %s differs by %.3g (scale %.3g)", n, d, scale)
		}
	}
}

// TestParityEveryPath repeats the forward and gradient parity checks with
// each kernel path this CPU offers forced in turn (AVX-512, AVX2, pure Go).
func TestParityEveryPath(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	for _, p := range simd.Available() {
		if err := simd.Use(p); err != nil {
			t.Fatal(err)
		}
		t.Run(string(p), func(t *testing.T) {
			for _, name := range fixtures {
				f := loadFixture(t, name)
				out, err := f.model.Forward(f.sample, f.t, f.cond, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(t, "output", out, f.want["output"]); d > parityTol {
					t.Errorf("%s on %s: output differs by %.3g", name, p, d)
				}
			}
			for _, name := range gradFixtures {
				parityGradients(t, name, true)
			}
		})
	}
}
