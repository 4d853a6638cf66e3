// Package plots draws the toolkit's figures with gonum.org/v1/plot in one
// paper style (sizes for a two-column paper, the colour-blind-safe Okabe–Ito
// palette for lines and viridis for heatmaps): training curves, line plots
// with confidence bands, heatmaps, quality-versus-cost Pareto plots with
// labelled points, sample grids with crisp pixels and optional labels, and
// multi-panel figures. The output format (PDF, SVG or PNG) follows the file
// extension, and files are written atomically.
package plots
