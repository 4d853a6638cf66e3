// Package configs embeds the toolkit's reference U-Net configurations
// (diffusers config.json files), so that commands run on a fresh clone with
// no files to fetch.
//
//   - mnist.json: the reference class-conditional MNIST U-Net (32×32, one
//     channel, 11 classes: the ten digits and a null class for
//     classifier-free guidance), with attention only at 8×8.
//   - mnist_attn32.json: the same with attention also at the highest
//     resolution (32×32), for speed studies.
package configs

import (
	"embed"
	"fmt"
	"strings"
)

//go:embed *.json
var files embed.FS

// Names returns the embedded config names ("mnist", ...).
func Names() []string {
	es, _ := files.ReadDir(".")
	var out []string
	for _, e := range es {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	return out
}

// Get returns an embedded config.json by name.
func Get(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".json")
	if err != nil {
		return nil, fmt.Errorf("no embedded config %q (have %v)", name, Names())
	}
	return b, nil
}
