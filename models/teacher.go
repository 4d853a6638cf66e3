package models

import (
	"fmt"
	"io/fs"
)

// Teacher returns the directory of the shipped teacher model, or an error
// wrapping fs.ErrNotExist when this build has none.
func Teacher() (string, error) {
	return "", fmt.Errorf("no shipped teacher in this build: %w", fs.ErrNotExist)
}
