package unet

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// TestDeepenComputesTheSame checks that a deepened model (one more ResNet
// and attention per block) gives what the model gives, on a
// class-conditional UNet2DModel with spatial attention and on a
// UNet2DConditionModel with cross-attention, from one and from two layers
// per block, with every weight perturbed so that no zero is left by
// chance; and that the added layers are there to train.
func TestDeepenComputesTheSame(t *testing.T) {
	type tc struct {
		name string
		cfg  Config
		cond func(rng *rand.Rand) Cond
	}
	cond := tinyCondConfig()
	cases := []tc{
		{"UNet2DModel", tinyConfig(), func(*rand.Rand) Cond { return Cond{Labels: []int64{2, 0}} }},
		{"UNet2DConditionModel", cond, func(rng *rand.Rand) Cond {
			return Cond{Labels: []int64{1, 2}, Text: randTensor(rng, 2, 3, cond.CrossAttentionDim)}
		}},
	}
	two := tinyCondConfig()
	two.LayersPerBlock = 2
	cases = append(cases, tc{"UNet2DConditionModel, 2 layers", two, cases[1].cond})
	for _, c := range cases {
		m, err := New(c.cfg, 5)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		perturbParams(m, rng)
		d, err := m.Deepen(9)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d.Config.LayersPerBlock != c.cfg.LayersPerBlock+1 || d.Params.Count() <= m.Params.Count() {
			t.Fatalf("%s: deepened to %d layers per block, %d parameters from %d", c.name, d.Config.LayersPerBlock, d.Params.Count(), m.Params.Count())
		}
		x := randTensor(rng, 2, c.cfg.InChannels, 8, 8)
		cd := c.cond(rng)
		want, err := m.Forward(x, []float64{10, 700}, cd, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Forward(x, []float64{10, 700}, cd, nil)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i, v := range want.Float32s() {
			worst = math.Max(worst, math.Abs(float64(v-got.Float32s()[i])))
		}
		if worst > 1e-4 {
			t.Errorf("%s: deepened model differs by up to %g", c.name, worst)
		}
		// The added layers are not inert: perturbing an added ResNet's
		// last convolution changes the output.
		name := "up_blocks.0.resnets.1.conv2.weight"
		for i := range d.Params.Data(name) {
			d.Params.Data(name)[i] = 0.3
		}
		moved, err := d.Forward(x, []float64{10, 700}, cd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tensorsEqual(moved, want) {
			t.Errorf("%s: the added layer %s does not reach the output", c.name, name)
		}
	}
	if _, err := (&Model{Config: Config{}}).Deepen(0); err == nil {
		t.Error("a model of 0 layers per block deepened")
	}
}

func tensorsEqual(a, b *tensor.Dense) bool {
	av, bv := a.Float32s(), b.Float32s()
	for i := range av {
		if av[i] != bv[i] {
			return false
		}
	}
	return len(av) == len(bv)
}
