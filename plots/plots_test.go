package plots

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

func figures(t *testing.T) map[string]*plot.Plot {
	t.Helper()
	xs := []float64{0, 1, 2, 3, 5, 10, 15}
	lo, hi, y := make([]float64, len(xs)), make([]float64, len(xs)), make([]float64, len(xs))
	for i, x := range xs {
		y[i] = math.Exp(-x / 4)
		lo[i], hi[i] = y[i]-0.05, y[i]+0.05
	}
	lines, err := Lines("L2 to the clean output", "first perturbed step k", "L2", []Series{
		{Name: "up_blocks.0", X: xs, Y: y, Lo: lo, Hi: hi},
		{Name: "up_blocks.2", X: xs, Y: hi, Dashed: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	steps, loss := make([]float64, 200), make([]float64, 200)
	for i := range steps {
		steps[i], loss[i] = float64(i*10), 1/(1+float64(i))+0.01*math.Sin(float64(i))+0.02
	}
	curve, err := TrainingCurve("training", steps, loss, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	heat, err := Heatmap("perturbation", "k", "tap", []string{"0", "1", "5"}, []string{"conv_in", "mid", "up.2"},
		[][]float64{{1, 0.5, 0.1}, {0.8, 0.2, math.NaN()}, {0.3, 0.2, 0.05}}, "%.2f")
	if err != nil {
		t.Fatal(err)
	}
	par, err := Pareto("quality vs cost", "GFLOPs per sample", "FID-MNIST", []Point{
		{Label: "full 20", X: 20, Y: 5, YLo: 4.5, YHi: 5.5}, {Label: "full 8", X: 8, Y: 9},
		{Label: "clockwork 8", X: 6, Y: 8, XLo: 5.5, XHi: 6.5, Highlight: true}, {Label: "bad", X: 10, Y: 12},
	})
	if err != nil {
		t.Fatal(err)
	}
	img := make([]float32, 6*1*4*4)
	for i := range img {
		img[i] = float32(i%7)/3 - 1
	}
	grid, err := Grid("samples", img, 6, 1, 4, 4, 3, []string{"a", "b"}, []string{"x", "y", "z"})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*plot.Plot{"lines": lines, "curve": curve, "heatmap": heat, "pareto": par, "grid": grid}
}

// TestFiguresRender renders every figure type, and a multi-panel figure, to
// every format, and checks the files.
func TestFiguresRender(t *testing.T) {
	dir := t.TempDir()
	figs := figures(t)
	figs["panels"] = nil
	for name, p := range figs {
		for _, ext := range []string{"pdf", "svg", "png"} {
			path := filepath.Join(dir, name+"."+ext)
			var err error
			if p == nil {
				f := figures(t)
				err = SavePanels([][]*plot.Plot{{f["lines"], f["heatmap"]}, {f["pareto"], nil}}, path, PageWidth, 2*FigHeight)
			} else {
				err = Save(p, path, ColumnWidth, FigHeight)
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			b, err := os.ReadFile(path)
			if err != nil || len(b) < 500 {
				t.Fatalf("%s: %d bytes, %v", path, len(b), err)
			}
			switch ext {
			case "pdf":
				if !bytes.HasPrefix(b, []byte("%PDF")) {
					t.Errorf("%s is not a PDF", path)
				}
			case "svg":
				if !strings.Contains(string(b[:min(len(b), 400)]), "<svg") {
					t.Errorf("%s is not an SVG", path)
				}
			case "png":
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				w, h := ColumnWidth, FigHeight
				if p == nil {
					w, h = PageWidth, 2*FigHeight
				}
				// PNGs render at PNGDPI dots per inch (680 pixels for a column).
				wantW, wantH := int(float64(w/vg.Inch)*PNGDPI), int(float64(h/vg.Inch)*PNGDPI)
				if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
					t.Errorf("%s is %d×%d, want %d×%d", path, b.Dx(), b.Dy(), wantW, wantH)
				}
			}
		}
	}
}

func TestFigureErrors(t *testing.T) {
	if _, err := Lines("", "", "", []Series{{X: []float64{1}, Y: []float64{1, 2}}}); err == nil {
		t.Error("mismatched series accepted")
	}
	if _, err := Lines("", "", "", []Series{{X: []float64{1}, Y: []float64{math.NaN()}}}); err == nil {
		t.Error("NaN accepted")
	}
	if _, err := Heatmap("", "", "", []string{"a"}, []string{"r"}, [][]float64{{1, 2}}, ""); err == nil {
		t.Error("ragged heatmap accepted")
	}
	if _, err := Heatmap("", "", "", []string{"a", "b"}, []string{"r"}, [][]float64{{1, math.Inf(1)}}, ""); err == nil {
		t.Error("infinite heatmap value accepted")
	}
	if c := Viridis(math.NaN()); c != missing {
		t.Errorf("Viridis(NaN) = %v, want the missing-value grey", c)
	}
	p, _ := Lines("", "", "", []Series{{X: []float64{1}, Y: []float64{1}}})
	if err := Save(p, filepath.Join(t.TempDir(), "x.gif"), ColumnWidth, FigHeight); err == nil {
		t.Error("unknown format accepted")
	}
	ragged := filepath.Join(t.TempDir(), "ragged.png")
	if err := SavePanels([][]*plot.Plot{{p, p}, {p}}, ragged, PageWidth, FigHeight); err == nil || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("ragged panels: %v, want an error naming row 1", err)
	}
	if _, err := os.Stat(ragged); !os.IsNotExist(err) {
		t.Errorf("ragged panels wrote %s", ragged)
	}
}

func TestParetoFront(t *testing.T) {
	front := ParetoFront([]Point{{X: 1, Y: 5}, {X: 2, Y: 3}, {X: 3, Y: 4}, {X: 4, Y: 1}, {X: 2, Y: 6}})
	if len(front) != 3 || front[0] != 0 || front[1] != 1 || front[2] != 3 {
		t.Errorf("front %v, want [0 1 3]", front)
	}
}

func TestGridImage(t *testing.T) {
	x := []float32{-1, 1, 0, 2} // one 2×2 image
	img, err := GridImage(x, 1, 1, 2, 2, 1, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1+2*3+1 || b.Dy() != 8 {
		t.Fatalf("size %v", b)
	}
	// Pixel (0,0) is black, (1,0) white; each a 3×3 block (nearest neighbour).
	if c := img.RGBAAt(1+2, 1+2); c.R != 0 {
		t.Errorf("black pixel drawn as %v", c)
	}
	if c := img.RGBAAt(1+3, 1); c.R != 255 {
		t.Errorf("white pixel drawn as %v", c)
	}
	if c := img.RGBAAt(1+5, 1+5); c.R != 255 { // 2 is clipped to white
		t.Errorf("clipped pixel drawn as %v", c)
	}
}

// TestParetoLayout: twenty labelled points at nearly the same cost and
// quality (the full study's crowd), saved: no two labels overlap, none
// overlaps the legend or leaves the data area, labels that fit nowhere
// are numbered and listed in the legend, and the legend covers no data.
func TestParetoLayout(t *testing.T) {
	var pts []Point
	for i := 0; i < 20; i++ {
		pts = append(pts, Point{Label: fmt.Sprintf("adaptor variant %d", i), X: 2.78 + 0.002*float64(i%5), Y: 3 + 0.03*float64(i), YLo: 2.8 + 0.03*float64(i), YHi: 3.2 + 0.03*float64(i), Highlight: i == 3})
	}
	pts = append(pts, Point{Label: "teacher 5", X: 2.52, Y: 1.9}, Point{Label: "teacher 8", X: 4.03, Y: 0})
	p, err := Pareto("t", "GFLOPs", "L2", pts, "teacher and adaptors", "ResNet adaptor")
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(p, filepath.Join(t.TempDir(), "p.png"), PageWidth, 1.4*FigHeight); err != nil {
		t.Fatal(err)
	}
	l := layoutOf(p)
	if len(l.placed)+countPrefix(l.numbers, "unlabelled") != len(pts) {
		t.Fatalf("%d labels placed and %d listed, of %d", len(l.placed), countPrefix(l.numbers, "unlabelled"), len(pts))
	}
	for i, a := range l.placed {
		if a.overlaps(l.legendAt) {
			t.Errorf("label %d overlaps the legend", i)
		}
		for j := i + 1; j < len(l.placed); j++ {
			if a.overlaps(l.placed[j]) {
				t.Errorf("labels %d and %d overlap", i, j)
			}
		}
	}
	if len(l.numbers) == 0 || len(l.numbers) == len(pts) {
		t.Errorf("%d of %d labels numbered; the crowd should need some, the lone points none", len(l.numbers), len(pts))
	}
	if l.legendHit != 0 {
		t.Errorf("the legend covers %d data points", l.legendHit)
	}
}

func countPrefix(list []string, prefix string) (n int) {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestLegendCoversNoData: a line along the top of the plot (the identity
// adaptor's loss in the distillation figure) and curves in every corner
// leave no free corner: the Y range grows until the legend clears them.
func TestLegendCoversNoData(t *testing.T) {
	xs := []float64{0, 10, 20, 30}
	p, err := Lines("t", "epoch", "loss", []Series{
		{Name: "falls", X: xs, Y: []float64{0.09, 0.06, 0.05, 0.049}},
		{Name: "rises", X: xs, Y: []float64{0.049, 0.05, 0.06, 0.09}},
		{Name: "identity", X: []float64{0, 30}, Y: []float64{0.1, 0.1}, Dashed: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, LogTicks{}
	top := p.Y.Max
	if err := Save(p, filepath.Join(t.TempDir(), "l.png"), PageWidth, 1.4*FigHeight); err != nil {
		t.Fatal(err)
	}
	l := layoutOf(p)
	if l.legendHit != 0 {
		t.Errorf("the legend covers %d data points", l.legendHit)
	}
	if !(p.Y.Max > top) {
		t.Errorf("Y range not grown (%g) though no corner was free", p.Y.Max)
	}
}

// TestNiceTicks: four to ten labels at round values.
func TestNiceTicks(t *testing.T) {
	for _, r := range [][2]float64{{-0.2, 3.8}, {2.45, 4.1}, {0, 100}, {0.041, 0.0432}, {1, 19.9}} {
		var labels []string
		for _, k := range (NiceTicks{}).Ticks(r[0], r[1]) {
			if k.Label != "" {
				labels = append(labels, k.Label)
			}
		}
		if len(labels) < 4 || len(labels) > 10 {
			t.Errorf("range %v: labels %v", r, labels)
		}
	}
}

// TestNiceTicksDegenerate: infinite, huge and empty ranges end (gonum's
// ticks) instead of looping.
func TestNiceTicksDegenerate(t *testing.T) {
	for _, r := range [][2]float64{{0, math.Inf(1)}, {1e17, 1e17 + 64}, {-1e308, 1e308}, {3, 3}, {math.NaN(), 1}} {
		_ = (NiceTicks{}).Ticks(r[0], r[1])
	}
}

// TestNiceLog: a log axis is widened to 1-2-5 values at both ends.
func TestNiceLog(t *testing.T) {
	for _, c := range [][4]float64{{0.7, 41, 0.5, 50}, {1e15, 3e15, 1e15, 5e15}, {0.02, 1000, 0.02, 1000}} {
		a := plot.Axis{Min: c[0], Max: c[1]}
		NiceLog(&a)
		if math.Abs(a.Min/c[2]-1) > 1e-9 || math.Abs(a.Max/c[3]-1) > 1e-9 {
			t.Errorf("[%g, %g] widened to [%g, %g], want [%g, %g]", c[0], c[1], a.Min, a.Max, c[2], c[3])
		}
	}
}

// TestLogTicksNarrowRange: a log axis spanning less than a decade still
// has labelled ticks inside its range; a wide one keeps the powers of ten.
func TestLogTicksNarrowRange(t *testing.T) {
	labelled := func(ts []plot.Tick, lo, hi float64) (n int) {
		for _, k := range ts {
			if k.Label != "" && k.Value >= lo && k.Value <= hi {
				n++
			}
		}
		return n
	}
	if n := labelled(LogTicks{}.Ticks(0.075, 0.082), 0.075, 0.082); n < 2 {
		t.Errorf("narrow range: %d labelled ticks", n)
	}
	wide := LogTicks{}.Ticks(0.001, 10)
	if n := labelled(wide, 0.001, 10); n < 4 {
		t.Errorf("wide range: %d labelled ticks", n)
	}
}

// TestLogTicksOneDecade: a log axis over about one decade is labelled at
// 1, 2 and 5 times powers of ten.
func TestLogTicksOneDecade(t *testing.T) {
	var got []string
	for _, k := range (LogTicks{}).Ticks(2.5, 45) {
		if k.Label != "" {
			got = append(got, k.Label)
		}
	}
	if strings.Join(got, ",") != "5,10,20" {
		t.Errorf("labels %v, want 5,10,20", got)
	}
}
