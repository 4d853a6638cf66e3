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
