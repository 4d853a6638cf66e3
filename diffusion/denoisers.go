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
//
// It counts the FLOPs of its forward passes (FLOPCounter): the analytic
// cost of the whole U-Net (unet.Model.Cost) per row.
type ModelDenoiser struct {
	Model *unet.Model
	Hook  unet.Hook

	flops  int64
	costHW [2]int
	cost   int64
}

// Predict implements Denoiser.
func (m *ModelDenoiser) Predict(x *tensor.Dense, t float64, labels []int64) (*tensor.Dense, error) {
	out, err := m.Model.Forward(x, []float64{t}, labels, m.Hook)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	m.flops += int64(s[0]) * m.passFLOPs(s[2], s[3])
	return out, nil
}

// passFLOPs returns the FLOPs of one forward pass of one h×w sample.
func (m *ModelDenoiser) passFLOPs(h, w int) int64 {
	if m.costHW != [2]int{h, w} || m.cost == 0 {
		_, m.cost = m.Model.Cost(h, w).Total()
		m.costHW = [2]int{h, w}
	}
	return m.cost
}

// FLOPs implements FLOPCounter.
func (m *ModelDenoiser) FLOPs() int64 { return m.flops }

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

// Unwrap implements Wrapper.
func (g *Guided) Unwrap() Denoiser { return g.D }

// InnerRows implements RowMapper: under guidance the wrapped denoiser sees
// the conditional rows, then the same samples with the null class.
func (g *Guided) InnerRows(rows []Row) []Row {
	if g.Scale == 1 {
		return rows
	}
	out := make([]Row, 0, 2*len(rows))
	out = append(out, rows...)
	for _, r := range rows {
		out = append(out, Row{Sample: r.Sample, Label: g.Null, Null: true})
	}
	return out
}

// NullClass returns the null class of a class-conditional model with
// num_class_embeds k (the last class, k−1, by the toolkit's convention; the
// trainer drops labels to it), or false for an unconditional one.
func NullClass(k int) (int64, bool) {
	if k <= 1 {
		return 0, false
	}
	return int64(k - 1), true
}

// Guide wraps d in classifier-free guidance of the given scale for a model
// with num_class_embeds k; scale 1 returns d itself.
func Guide(d Denoiser, k int, scale float64) (Denoiser, error) {
	if scale == 1 {
		return d, nil
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("guidance scale %g is not a finite number", scale)
	}
	null, ok := NullClass(k)
	if !ok {
		return nil, fmt.Errorf("guidance needs a class-conditional model with a null class")
	}
	return &Guided{D: d, Scale: scale, Null: null}, nil
}
