// Package plots will draw the toolkit's paper figures with gonum.org/v1/plot.
package plots
