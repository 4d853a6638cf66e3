// Package nntest checks gradients of graphs built with package nn against
// central finite differences.
package nntest
