package nn

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func vec(v ...float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v))
}

// adamRef is the textbook update in float64.
func adamRef(x, g []float64, steps int, lr, wd float64, decoupled bool) []float64 {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	m := make([]float64, len(x))
	v := make([]float64, len(x))
	x = append([]float64(nil), x...)
	for t := 1; t <= steps; t++ {
		for i := range x {
			gi := g[i] * float64(t) // a gradient that changes each step
			if decoupled {
				x[i] *= 1 - lr*wd
			} else {
				gi += wd * x[i]
			}
			m[i] = b1*m[i] + (1-b1)*gi
			v[i] = b2*v[i] + (1-b2)*gi*gi
			mh := m[i] / (1 - math.Pow(b1, float64(t)))
			vh := v[i] / (1 - math.Pow(b2, float64(t)))
			x[i] -= lr * mh / (math.Sqrt(vh) + eps)
		}
	}
	return x
}

func TestAdamMatchesTextbook(t *testing.T) {
	for _, c := range []struct {
		name      string
		wd        float64
		decoupled bool
	}{{"adam", 0, false}, {"adam-l2", 0.1, false}, {"adamw", 0.1, true}, {"NewAdamW", 0.01, true}} {
		p := NewParams()
		p.Declare("w", 1, Const(0), 3)
		copy(p.Data("w"), []float32{0.5, -1, 2})
		a := NewAdam(0.01)
		a.WeightDecay, a.Decoupled = c.wd, c.decoupled
		if c.name == "NewAdamW" {
			a = NewAdamW(0.01) // PyTorch's AdamW defaults
		}
		g := []float64{0.3, -0.02, 1e-4}
		for s := 1; s <= 5; s++ {
			gs := vec(float32(g[0]*float64(s)), float32(g[1]*float64(s)), float32(g[2]*float64(s)))
			if err := a.Update(p, []string{"w"}, []*tensor.Dense{gs}); err != nil {
				t.Fatal(err)
			}
		}
		want := adamRef([]float64{0.5, -1, 2}, g, 5, 0.01, c.wd, c.decoupled)
		for i, v := range p.Data("w") {
			if math.Abs(float64(v)-want[i]) > 1e-6 {
				t.Errorf("%s: w[%d] = %.8f, want %.8f", c.name, i, v, want[i])
			}
		}
	}
}

func TestAdamRejectsNaN(t *testing.T) {
	p := NewParams()
	p.Declare("w", 1, Const(1), 2)
	a := NewAdam(0.1)
	if err := a.Update(p, []string{"w"}, []*tensor.Dense{vec(1, float32(math.NaN()))}); err == nil {
		t.Fatal("NaN gradient accepted")
	}
	if p.Data("w")[0] != 1 || a.Steps != 0 {
		t.Error("a rejected update changed the state")
	}
}

func TestClipGradNorm(t *testing.T) {
	g := []*tensor.Dense{vec(3, 0), vec(0, 4)}
	if n := ClipGradNorm(g, 1); math.Abs(n-5) > 1e-6 {
		t.Errorf("norm %g, want 5", n)
	}
	if n := GradNorm(g); math.Abs(n-1) > 1e-5 {
		t.Errorf("clipped norm %g, want 1", n)
	}
	g = []*tensor.Dense{vec(0.3, 0.4)}
	ClipGradNorm(g, 1)
	if g[0].Data().([]float32)[0] != 0.3 {
		t.Error("a gradient under the limit was scaled")
	}
}

func TestEMA(t *testing.T) {
	p := NewParams()
	p.Declare("w", 1, Const(0), 1)
	e := NewEMA(p, 0.9)
	p.Data("w")[0] = 1
	e.Update(p)
	e.Update(p)
	// 0 → 0.1 → 0.19
	if got := e.Shadow.Data("w")[0]; math.Abs(float64(got)-0.19) > 1e-6 {
		t.Errorf("ema %g, want 0.19", got)
	}
	e = NewEMA(p, 0.999)
	e.Warmup = true
	p.Data("w")[0] = 2
	e.Update(p) // decay min(0.999, 1/10) = 0.1: 1 → 0.1·1 + 0.9·2
	if got := e.Shadow.Data("w")[0]; math.Abs(float64(got)-1.9) > 1e-6 {
		t.Errorf("warm-up ema %g, want 1.9", got)
	}
}

// TestJoinSelect: a joined store shares its members' tensors (an update
// through it is seen by each), Select takes a member's part back (of the
// joined store or of a clone, an EMA's), and names in two stores or
// missing from the layout are errors.
func TestJoinSelect(t *testing.T) {
	a, b := NewParams(), NewParams()
	a.Declare("u.w", 1, Const(1), 2, 3)
	b.Declare("t.w", 1, Const(2), 4)
	j, err := Join(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if j.Len() != 2 || j.Names()[0] != "u.w" || j.Names()[1] != "t.w" {
		t.Fatalf("joined names %v", j.Names())
	}
	j.Data("t.w")[0] = 7
	if b.Data("t.w")[0] != 7 {
		t.Error("a joined store does not share its members' tensors")
	}
	ema := j.Clone()
	ema.Data("u.w")[1] = 5
	part, err := ema.Select(a)
	if err != nil {
		t.Fatal(err)
	}
	if part.Len() != 1 || part.Data("u.w")[1] != 5 || a.Data("u.w")[1] != 1 {
		t.Errorf("selected %v: %v", part.Names(), part.Data("u.w"))
	}
	if _, err := Join(a, a); err == nil || !strings.Contains(err.Error(), `"u.w" is in two`) {
		t.Errorf("joining a store twice: %v", err)
	}
	if _, err := b.Select(a); err == nil || !strings.Contains(err.Error(), `"u.w" missing`) {
		t.Errorf("selecting a name the store lacks: %v", err)
	}
}
