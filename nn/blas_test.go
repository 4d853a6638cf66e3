package nn

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// TestGorgoniaUsesOurGEMM runs gorgonia's own matrix product and checks that
// it went through this toolkit's GEMM and is right.
func TestGorgoniaUsesOurGEMM(t *testing.T) {
	g := G.NewGraph()
	a := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))))
	b := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 2), G.WithValue(tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float32{1, 0, 0, 1, 1, 1}))))
	c := G.Must(G.Mul(a, b))
	m := G.NewTapeMachine(g)
	defer m.Close()
	before := simd.BLASCalls()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	if simd.BLASCalls() == before {
		t.Error("gorgonia's Mul did not call the toolkit's Sgemm")
	}
	want := []float32{4, 5, 10, 11}
	for i, v := range c.Value().Data().([]float32) {
		if v != want[i] {
			t.Fatalf("product %v, want %v", c.Value().Data(), want)
		}
	}
}
