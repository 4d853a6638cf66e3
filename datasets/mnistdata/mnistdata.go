// Package mnistdata embeds MNIST (LeCun, Cortes & Burges; the four
// gzip-compressed IDX files of the GoMNIST module, byte for byte) and,
// when imported, installs it as datasets.EmbeddedMNIST, so that a binary
// finds MNIST without the Go module cache or a Go toolchain at run time.
// The toolkit's commands import it; a library user who wants the same
// adds
//
//	import _ "github.com/clockwork-go/clockwork/datasets/mnistdata"
//
// It adds about 11.6 MB to a binary. MNIST is distributed under the
// Creative Commons Attribution-Share Alike 3.0 license (see README.md
// here).
package mnistdata

import (
	"embed"

	"github.com/clockwork-go/clockwork/datasets"
)

//go:embed *.gz
var files embed.FS

// FS returns the embedded files: train-images-idx3-ubyte.gz,
// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
// t10k-labels-idx1-ubyte.gz.
func FS() embed.FS { return files }

func init() { datasets.EmbeddedMNIST = files }
