package textenc

// The fixtures in testdata come from scripts/reference/make_textenc_fixtures.py:
// an independent PyTorch implementation of transformers' CLIPTextModel
// (scripts/reference/cliptext.py), float64 outputs of float32 weights.

import (
	"math"
	"path/filepath"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/simd"
	"github.com/clockwork-go/clockwork/nn"
)

const parityTol = 1e-4

type fixture struct {
	m    *Model
	ids  []int64
	mask []float32
	n, l int
	want map[string]npzio.Array
	dir  string
}

func load(t *testing.T, name string) fixture {
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
	ids := in["input_ids"]
	f := fixture{m: m, ids: ids.I64, n: ids.Shape[0], l: ids.Shape[1], want: want, dir: dir}
	for _, v := range in["attention_mask"].I64 {
		f.mask = append(f.mask, float32(v))
	}
	return f
}

func maxDiff(got []float32, want npzio.Array) float64 {
	if len(got) != len(want.F32) {
		return math.Inf(1)
	}
	var d float64
	for i, v := range got {
		d = math.Max(d, math.Abs(float64(v)-float64(want.F32[i])))
	}
	return d
}

// TestParity: the last hidden state and the pooled output of three configs
// (quick GELU with legacy argmax pooling; GELU with an inner masked token
// and end-of-text pooling; ids above the end-of-text id, where the two
// pooling rules differ) against the reference, on every kernel path.
func TestParity(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	for _, p := range simd.Available() {
		if err := simd.Use(p); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"tiny", "gelu-eos", "added-tokens"} {
			f := load(t, name)
			hidden, pooled, err := f.m.Encode(f.ids, f.mask, f.n, f.l)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(hidden.Data().([]float32), f.want["last_hidden_state"]); d > parityTol {
				t.Errorf("%s on %s: last hidden state differs by %.3g", name, p, d)
			}
			if d := maxDiff(pooled.Data().([]float32), f.want["pooler_output"]); d > parityTol {
				t.Errorf("%s on %s: pooled output differs by %.3g", name, p, d)
			}
			if nm, ok := f.want["nomask.last_hidden_state"]; ok {
				h, _, err := f.m.Encode(f.ids, nil, f.n, f.l)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxDiff(h.Data().([]float32), nm); d > parityTol {
					t.Errorf("%s on %s: unmasked hidden state differs by %.3g", name, p, d)
				}
			}
		}
	}
}

// TestParityGradients: the gradient of sum(hidden ⊙ r_hidden) +
// sum(pooled ⊙ r_pooled) with respect to every parameter against the
// reference's autograd.
func TestParityGradients(t *testing.T) {
	f := load(t, "tiny")
	gr, err := npzio.Read(filepath.Join(f.dir, "grad.npz"))
	if err != nil {
		t.Fatal(err)
	}
	m, n, l := f.m, f.n, f.l
	g := nn.NewGraph(m.Params)
	var idx, bias, rh, rp, hidden *G.Node
	var loss *G.Node
	pos := make([]float32, n)
	for b, p := range m.PooledPositions(f.ids, n, l) {
		pos[b] = float32(b*l + p)
	}
	err = nn.Build(func() error {
		idx, bias = g.Input("ids", n*l), g.Input("bias", n, l)
		hidden = m.Graph(g, idx, bias, n, l)
		pooled := nn.Lookup(hidden, g.Const("pooled", tensor.New(tensor.WithShape(n), tensor.WithBacking(pos))))
		rh, rp = g.Input("rh", hidden.Shape()...), g.Input("rp", pooled.Shape()...)
		loss = nn.Add(nn.Dot(hidden, rh), nn.Dot(pooled, rp))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	names, grads, err := g.Grad(loss)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]float32, n*l)
	for i, v := range f.ids {
		ids[i] = float32(v)
	}
	for _, b := range []struct {
		n *G.Node
		v []float32
	}{{idx, ids}, {bias, MaskBias(f.mask, n, l)}, {rh, gr["r_hidden"].F32}, {rp, gr["r_pooled"].F32}} {
		if err := nn.Let(b.n, tensor.New(tensor.WithShape(b.n.Shape().Clone()...), tensor.WithBacking(b.v))); err != nil {
			t.Fatal(err)
		}
	}
	mc, err := g.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Run(); err != nil {
		t.Fatal(err)
	}
	if len(names) != m.Params.Len() {
		t.Errorf("gradients of %d parameters, the model has %d", len(names), m.Params.Len())
	}
	for i, name := range names {
		want, ok := gr["grad."+name]
		if !ok {
			t.Fatalf("no reference gradient of %s", name)
		}
		var scale float64
		for _, v := range want.F32 {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		if d := maxDiff(nn.Value(grads[i]).Data().([]float32), want); d > 1e-4*math.Max(scale, 1) {
			t.Errorf("gradient of %s differs by %.3g (scale %.3g)", name, d, scale)
		}
	}
}
