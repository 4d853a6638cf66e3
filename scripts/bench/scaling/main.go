// Command scaling turns the CSV of scripts/bench/scaling.sh into a table
// (table.md: seconds per step, the ratio PyTorch/Go, and each side's
// parallel efficiency) and a figure of speed-up against threads
// (scaling.png and .pdf, one panel per config, mode and batch):
//
//	go run ./scripts/bench/scaling -csv OUT/scaling.csv -out OUT
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/plots"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// point is one row of the sweep.
type point struct {
	config, mode   string
	batch, threads int
	goS, torchS    float64
	torch, attn    string
	alloc, cpu     string
}

func read(path string) ([]point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: no measurements", path)
	}
	var out []point
	for i, r := range rows[1:] {
		if len(r) < 11 {
			return nil, fmt.Errorf("%s line %d: %d fields, want 11", path, i+2, len(r))
		}
		b, err1 := strconv.Atoi(r[2])
		t, err2 := strconv.Atoi(r[3])
		g, err3 := strconv.ParseFloat(r[4], 64)
		p, err4 := strconv.ParseFloat(r[5], 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || g <= 0 || p <= 0 {
			return nil, fmt.Errorf("%s line %d: bad numbers %v", path, i+2, r)
		}
		out = append(out, point{r[0], r[1], b, t, g, p, r[7], r[8], r[9], r[10]})
	}
	return out, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scaling", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("csv", "", "scaling.csv of scripts/bench/scaling.sh")
	out := fs.String("out", ".", "directory for table.md and scaling.png/.pdf")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *in == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "scaling: give -csv FILE")
		return 2
	}
	pts, err := read(*in)
	if err != nil {
		fmt.Fprintln(stderr, "scaling:", err)
		return 1
	}
	type key struct {
		config, mode string
		batch        int
	}
	groups := map[key][]point{}
	var keys []key
	for _, p := range pts {
		k := key{p.config, p.mode, p.batch}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], p)
	}
	if err := fsutil.WriteAtomic(filepath.Join(*out, "table.md"), func(w io.Writer) error {
		fmt.Fprintf(w, "CPU: %s; PyTorch %s, attention %s, allocator %s. Ratio = PyTorch seconds per step / Go's (above 1: Go faster); efficiency = t(1 thread) / (threads × t).\n\n", pts[0].cpu, pts[0].torch, pts[0].attn, pts[0].alloc)
		fmt.Fprintln(w, "| config | mode | batch | threads | Go s/step | PyTorch s/step | ratio | Go efficiency | PyTorch efficiency |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
		for _, k := range keys {
			g := groups[k]
			sort.Slice(g, func(i, j int) bool { return g[i].threads < g[j].threads })
			for _, p := range g {
				ge, te := "", ""
				if g[0].threads == 1 {
					ge = fmt.Sprintf("%.0f%%", 100*g[0].goS/(float64(p.threads)*p.goS))
					te = fmt.Sprintf("%.0f%%", 100*g[0].torchS/(float64(p.threads)*p.torchS))
				}
				fmt.Fprintf(w, "| %s | %s | %d | %d | %.4f | %.4f | %.2f× | %s | %s |\n", k.config, k.mode, k.batch, p.threads, p.goS, p.torchS, p.torchS/p.goS, ge, te)
			}
		}
		return nil
	}); err != nil {
		fmt.Fprintln(stderr, "scaling:", err)
		return 1
	}
	var row []*plot.Plot
	for _, k := range keys {
		g := groups[k]
		if len(g) < 2 || g[0].threads != 1 {
			continue
		}
		var gs, ts plots.Series
		gs.Name, ts.Name = "Go", "PyTorch "+g[0].torch
		for _, p := range g {
			x := float64(p.threads)
			gs.X, gs.Y = append(gs.X, x), append(gs.Y, g[0].goS/p.goS)
			ts.X, ts.Y = append(ts.X, x), append(ts.Y, g[0].torchS/p.torchS)
		}
		ideal := plots.Series{Name: "ideal", X: gs.X, Y: gs.X, Dashed: true, NoMarkers: true}
		p, err := plots.Lines(fmt.Sprintf("%s %s, batch %d", k.config, k.mode, k.batch), "threads", "speed-up over 1 thread", []plots.Series{gs, ts, ideal})
		if err != nil {
			fmt.Fprintln(stderr, "scaling:", err)
			return 1
		}
		if len(row) > 0 {
			p.Legend = plot.NewLegend()
		}
		row = append(row, p)
	}
	if len(row) > 0 {
		var grid [][]*plot.Plot
		for i := 0; i < len(row); i += 2 {
			r := []*plot.Plot{row[i], nil}
			if i+1 < len(row) {
				r[1] = row[i+1]
			}
			grid = append(grid, r)
		}
		for _, ext := range []string{".png", ".pdf"} {
			if err := plots.SavePanels(grid, filepath.Join(*out, "scaling"+ext), plots.PageWidth, vg.Length(len(grid))*plots.FigHeight); err != nil {
				fmt.Fprintln(stderr, "scaling:", err)
				return 1
			}
		}
	}
	fmt.Fprintf(stdout, "wrote %s and scaling.png in %s\n", filepath.Join(*out, "table.md"), *out)
	return 0
}
