package diffusion

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/unet"
)

// ModelDenoiser runs a U-Net as a Denoiser. Hook, when set, sees the
// U-Net's taps on every forward pass; a sampler's step hook can change it
// from step to step (to perturb features from some step on, say).
type ModelDenoiser struct {
	Model *unet.Model
	Hook  unet.Hook
}

// Predict implements Denoiser.
func (m *ModelDenoiser) Predict(x *tensor.Dense, t float64, labels []int64) (*tensor.Dense, error) {
	return m.Model.Forward(x, []float64{t}, labels, m.Hook)
}

// Guided applies classifier-free guidance (Ho & Salimans, "Classifier-Free
// Diffusion Guidance", 2022) to a class-conditional denoiser: the output is
// u + Scale·(c − u) for the conditional output c and the output u for the
// null class, computed in one batch of twice the size. Scale 1 is plain
// conditional sampling (one pass).
type Guided struct {
	D     Denoiser
	Scale float64
	Null  int64 // label of the null class the model was trained with
}

// Predict implements Denoiser.
func (g *Guided) Predict(x *tensor.Dense, t float64, labels []int64) (*tensor.Dense, error) {
	if g.Scale == 1 {
		return g.D.Predict(x, t, labels)
	}
	if labels == nil {
		return nil, fmt.Errorf("classifier-free guidance needs class labels")
	}
	if math.IsNaN(g.Scale) || math.IsInf(g.Scale, 0) {
		return nil, fmt.Errorf("guidance scale %g is not a finite number", g.Scale)
	}
	s := x.Shape()
	n, per := s[0], s.TotalSize()/s[0]
	if len(labels) != n {
		return nil, fmt.Errorf("classifier-free guidance: %d labels for %d samples", len(labels), n)
	}
	both := tensor.New(tensor.WithShape(append([]int{2 * n}, s[1:]...)...), tensor.Of(tensor.Float32))
	bd := both.Data().([]float32)
	copy(bd, x.Data().([]float32))
	copy(bd[n*per:], x.Data().([]float32))
	l2 := make([]int64, 2*n)
	copy(l2, labels)
	for i := n; i < 2*n; i++ {
		l2[i] = g.Null
	}
	out, err := g.D.Predict(both, t, l2)
	if err != nil {
		return nil, err
	}
	od := out.Data().([]float32)
	res := tensor.New(tensor.WithShape(s.Clone()...), tensor.Of(tensor.Float32))
	rd := res.Data().([]float32)
	sc := float32(g.Scale)
	for i := range rd {
		c, u := od[i], od[n*per+i]
		rd[i] = u + sc*(c-u)
	}
	return res, nil
}

// BeginStep passes the step on to the wrapped denoiser.
func (g *Guided) BeginStep(info StepInfo) error {
	if st, ok := g.D.(Stepper); ok {
		return st.BeginStep(info)
	}
	return nil
}
