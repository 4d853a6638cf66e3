package datasets

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/clockwork-go/clockwork/internal/sysmem"
)

// Open resolves a data specification, as commands take it:
//
//	mnist               MNIST from the GoMNIST module, padded to 32×32
//	mnist:DIR           MNIST from IDX files in DIR
//	shapes[:N]          N (default 10000) synthetic 32×32 shapes
//	npz:PATH[:X[:Y[:K]]] images X (default "images") and int64 labels Y
//	                    (default "labels"; "-" for none) with K classes
//	                    (default 10) from an .npz file
//	npy:PATH            unlabelled images from an .npy file
//
// split ("train" or "test") picks MNIST's split and the seed of shapes;
// a registered kind may know others (the captioned digits' "val").
//
// The set's Source is spec.
func Open(spec, split string) (*Images, error) {
	d, err := open(spec, split)
	if err != nil {
		return nil, err
	}
	d.Source = spec
	return d, nil
}

// Opener opens a kind of data that another package provides (see
// Register): arg is what follows "kind:" in the specification, and split
// "train", "test" or another the kind knows (an unknown one is its error).
type Opener func(arg, split string) (*Images, error)

var (
	openersMu sync.Mutex
	openers   = map[string]Opener{}
)

// Register makes Open resolve "kind" and "kind:ARG" with open: a data set
// defined outside this package (the captioned digits of package captions,
// say) becomes a -data value of every command that imports it. A kind
// built in or registered before is an error.
func Register(kind string, open Opener) error {
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, ok := openers[kind]; ok || slices.Contains(builtinKinds, kind) {
		return fmt.Errorf("datasets: data kind %q is already defined", kind)
	}
	if kind == "" || strings.Contains(kind, ":") || open == nil {
		return fmt.Errorf("datasets: bad data kind %q (a name without a colon, and its opener)", kind)
	}
	openers[kind] = open
	return nil
}

var builtinKinds = []string{"mnist", "shapes", "npy", "npz"}

// ParseCount reads the count of a data spec's argument ("shapes:N"): a
// positive integer, or def for an empty argument. A registered kind's
// opener reads its own argument with it.
func ParseCount(arg string, def int) (int, error) {
	if arg == "" {
		return def, nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad count %q: want a positive integer", arg)
	}
	return n, nil
}

func open(spec, split string) (*Images, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	openersMu.Lock()
	o := openers[kind]
	openersMu.Unlock()
	if o != nil {
		d, err := o(arg, split)
		if err != nil {
			return nil, fmt.Errorf("data %q: %w", spec, err)
		}
		return d, nil
	}
	switch kind {
	case "mnist":
		return MNIST(split, arg, true)
	case "shapes":
		n, err := ParseCount(arg, 10000)
		if err != nil {
			return nil, fmt.Errorf("data %q: %w", spec, err)
		}
		seed := uint64(1)
		if split == "test" {
			seed = 2
		}
		if err := sysmem.Check(float64(n)*(3*32*32+8), fmt.Sprintf("data %q (%d images of 3×32×32)", spec, n)); err != nil {
			return nil, err
		}
		return Shapes(n, 32, seed)
	case "npy":
		if arg == "" {
			return nil, fmt.Errorf("data %q: no file", spec)
		}
		return FromNPY(arg)
	case "npz":
		parts := strings.Split(arg, ":")
		if parts[0] == "" {
			return nil, fmt.Errorf("data %q: no file", spec)
		}
		x, y, k := "images", "labels", 10
		if len(parts) > 1 && parts[1] != "" {
			x = parts[1]
		}
		if len(parts) > 2 {
			y = parts[2]
			if y == "-" {
				y = ""
			}
		}
		if len(parts) > 3 {
			var err error
			if k, err = strconv.Atoi(parts[3]); err != nil || k <= 0 {
				return nil, fmt.Errorf("data %q: bad class count %q", spec, parts[3])
			}
		}
		return FromNPZ(parts[0], x, y, k)
	}
	var extra string
	openersMu.Lock()
	for k := range openers {
		extra += ", " + k
	}
	openersMu.Unlock()
	return nil, fmt.Errorf("data %q: want mnist, mnist:DIR, shapes[:N], npy:PATH or npz:PATH[:images[:labels[:classes]]]%s", spec, extra)
}
