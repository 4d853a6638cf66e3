//go:build !amd64

package simd

var kernels = map[Path]kernel{PureGo: {}}

func available() []Path { return []Path{PureGo} }
