package nn

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
)

// runGraph compiles and runs g and returns a copy of each node's value.
func runGraph(t *testing.T, g *Graph, nodes ...*G.Node) [][]float32 {
	t.Helper()
	m, err := g.Compile()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	out := make([][]float32, len(nodes))
	for i, n := range nodes {
		out[i] = append([]float32(nil), n.Value().Data().([]float32)...)
	}
	return out
}

// sameBits fails the test at the first value of got whose bits are not
// want's, naming the two computations.
func sameBits(t *testing.T, got, want []float32, gotName, wantName string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("value %d: %s %g, %s %g", i, gotName, got[i], wantName, want[i])
		}
	}
}
