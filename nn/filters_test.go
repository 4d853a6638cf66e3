package nn

import (
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/clockwork-go/clockwork/internal/simd"
)

// TestFilterCacheFollowsChanges changes a compiled convolution's filters
// in place between runs, as an optimizer step does, on each path that
// packs them (1×1, stride 2, 3×3 direct and Winograd) and on every GEMM
// path: each run must use the filters as they are then, equal to the bit
// to a graph compiled afresh.
func TestFilterCacheFollowsChanges(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	defer func() { winogradOff = false }()
	cases := []struct {
		name   string
		k      int
		geom   ConvGeom
		noWino bool
	}{{"1x1", 1, Same(1, 1, 0), false}, {"stride2", 3, Same(3, 2, 1), false}, {"3x3 direct", 3, Same(3, 1, 1), true}, {"winograd", 3, Same(3, 1, 1), false}}
	for _, p := range simd.Available() {
		simd.Use(p)
		for _, c := range cases {
			winogradOff = c.noWino
			build := func() (*Graph, *G.Node) {
				params := NewParams()
				params.Declare("x", 1, Normal(1), 2, 8, 16, 16)
				params.Declare("w", 2, Normal(0.3), 12, 8, c.k, c.k)
				g := NewGraph(params).ForInference()
				return g, Conv2d(g.Param("x"), g.Param("w"), nil, c.geom)
			}
			g, out := build()
			m, err := g.Compile()
			if err != nil {
				t.Fatal(err)
			}
			w := g.Param("w").Value().Data().([]float32)
			for round := 0; round < 3; round++ {
				if round > 0 {
					w[round*7] += 0.25 // one filter value changes in place
				}
				if err := m.Run(); err != nil {
					t.Fatal(err)
				}
				got := append([]float32(nil), out.Value().Data().([]float32)...)
				fresh, fout := build()
				copy(fresh.Param("w").Value().Data().([]float32), w)
				want := runGraph(t, fresh, fout)[0]
				sameBits(t, got, want, string(p)+" "+c.name+" reused", "compiled afresh")
			}
			m.Close()
		}
	}
}

// TestFilterCacheKeys: the same filters packed for another shape or
// another GEMM path are a change; the same bits are not.
func TestFilterCacheKeys(t *testing.T) {
	defer simd.Use(simd.Available()[0])
	var fc filterCache
	w := []float32{1, 2, 3}
	if !fc.changed(w, [3]int{1, 3, 1}) || fc.changed(w, [3]int{1, 3, 1}) {
		t.Fatal("first call not a change, or the second one is")
	}
	if !fc.changed(w, [3]int{3, 1, 1}) {
		t.Fatal("another shape is not a change")
	}
	if !fc.changed([]float32{1, 2, -3}, [3]int{3, 1, 1}) {
		t.Fatal("another value is not a change")
	}
	if !fc.changed([]float32{1, 2, -3, 0}, [3]int{3, 1, 1}) {
		t.Fatal("another length is not a change")
	}
	if len(simd.Available()) > 1 {
		simd.Use(simd.Available()[1])
		if !fc.changed([]float32{1, 2, -3, 0}, [3]int{3, 1, 1}) {
			t.Fatal("another GEMM path is not a change")
		}
	}
}
