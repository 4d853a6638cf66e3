package mnistdata

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/clockwork-go/clockwork/datasets"
)

// TestEmbeddedMNIST: the embedded files are MNIST's published ones (their
// SHA-256 sums), installed for datasets.MNIST, which reads both splits
// from them with every class present.
func TestEmbeddedMNIST(t *testing.T) {
	want := map[string]string{
		"train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
		"train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
		"t10k-images-idx3-ubyte.gz":  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
		"t10k-labels-idx1-ubyte.gz":  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
	}
	for name, sum := range want {
		f, err := FS().Open(name)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			t.Errorf("%s: sha256 %s, want %s", name, got, sum)
		}
	}
	if datasets.EmbeddedMNIST == nil {
		t.Fatal("importing mnistdata did not install the files")
	}
	for split, n := range map[string]int{"train": 60000, "test": 10000} {
		d, err := datasets.MNIST(split, "", true)
		if err != nil {
			t.Fatal(err)
		}
		var seen [10]int
		for _, l := range d.Labels {
			seen[l]++
		}
		if d.Len() != n || d.H != 28 || d.Pad != 2 {
			t.Errorf("%s: %d images of %d×%d (pad %d)", split, d.Len(), d.H, d.W, d.Pad)
		}
		for c, k := range seen {
			if k < n/20 {
				t.Errorf("%s: class %d has %d images", split, c, k)
			}
		}
	}
}
