// Package npztest writes .npz files of dtypes package npzio reads but does
// not write, for tests.
package npztest
