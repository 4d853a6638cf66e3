// Package npzio reads and writes NumPy .npy and .npz files of float32,
// float64, int64 and uint8 arrays through codeberg.org/sbinet/npyio, with the checks the toolkit
// needs: dtype and shape are reported in errors that name the file and the
// array, and files are written atomically.
package npzio
