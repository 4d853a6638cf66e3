package plots_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/plots"
)

// A figure for a paper: FID against sampling steps with a 95% band, saved
// as PDF at one column's width (SVG or PNG by the file's extension).
func ExampleLines() {
	steps := []float64{4, 8, 20, 50}
	fid := []float64{31.2, 20.5, 18.7, 19.6}
	lo := []float64{26.9, 16.8, 15.5, 16.3}
	hi := []float64{35.5, 24.1, 22.0, 23.0}
	p, err := plots.Lines("DPM-Solver++(2M)", "sampling steps", "FID-MNIST", []plots.Series{
		{Name: "full U-Net", X: steps, Y: fid, Lo: lo, Hi: hi},
	})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "plots")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "fid.pdf")
	if err := plots.Save(p, path, plots.ColumnWidth, plots.FigHeight); err != nil {
		log.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote a PDF:", st.Size() > 1000)
	// Output: wrote a PDF: true
}

// The cost–quality trade-off of several sampling set-ups, with the
// Pareto-optimal ones joined.
func ExampleParetoFront() {
	pts := []plots.Point{
		{Label: "20 steps", X: 10.1, Y: 18.7},
		{Label: "8 steps", X: 4.0, Y: 20.5},
		{Label: "50 steps", X: 25.2, Y: 19.6},
	}
	for _, i := range plots.ParetoFront(pts) {
		fmt.Println(pts[i].Label)
	}
	// Output:
	// 8 steps
	// 20 steps
}
