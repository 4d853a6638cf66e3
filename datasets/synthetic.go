package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/sysmem"
)

// ShapeNames are the classes of the synthetic Shapes set, by label.
var ShapeNames = []string{"disc", "square", "triangle", "cross"}

// Shapes returns n seeded RGB images of size×size, each a filled shape
// (disc, square, triangle or cross, the class label) of random colour,
// position and size on a dark background: a quick, learnable stand-in for a
// real dataset in tests and demos. The same seed gives the same images.
func Shapes(n, size int, seed uint64) (*Images, error) {
	if n <= 0 || size < 8 {
		return nil, fmt.Errorf("shapes: want n > 0 and size ≥ 8, got %d and %d", n, size)
	}
	if err := sysmem.Check(float64(n)*(3*float64(size)*float64(size)+8), fmt.Sprintf("shapes: %d images of 3×%d×%d", n, size, size)); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5ba9e5))
	d := &Images{Name: "shapes", C: 3, H: size, W: size, U8: make([]uint8, n*3*size*size), Classes: len(ShapeNames)}
	for i := 0; i < n; i++ {
		cls := rng.IntN(len(ShapeNames))
		d.Labels = append(d.Labels, int64(cls))
		var col [3]float64
		for c := range col {
			col[c] = 0.4 + 0.6*rng.Float64()
		}
		r := float64(size) * (0.2 + 0.15*rng.Float64())
		cx := r + rng.Float64()*(float64(size)-2*r)
		cy := r + rng.Float64()*(float64(size)-2*r)
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				px, py := (float64(x)+0.5-cx)/r, (float64(y)+0.5-cy)/r
				var in bool
				switch cls {
				case 0:
					in = px*px+py*py <= 1
				case 1:
					in = math.Abs(px) <= 0.8 && math.Abs(py) <= 0.8
				case 2:
					in = py <= 0.8 && py >= -1+2*math.Abs(px)
				case 3:
					in = (math.Abs(px) <= 0.3 && math.Abs(py) <= 1) || (math.Abs(py) <= 0.3 && math.Abs(px) <= 1)
				}
				for c := 0; c < 3; c++ {
					v := 0.08
					if in {
						v = col[c]
					}
					d.U8[((i*3+c)*size+y)*size+x] = uint8(math.Round(255 * v))
				}
			}
		}
	}
	return d, nil
}

// FromNPY loads unlabelled images from an .npy file: (N,C,H,W) or (N,H,W),
// uint8 (0–255) or float32 (in [−1, 1]).
func FromNPY(path string) (*Images, error) {
	a, err := npzio.ReadNpy(path)
	if err != nil {
		return nil, err
	}
	return imagesFrom(path, "array", a, nil, 0)
}

// FromNPZ loads images from an .npz file: the array named key, (N,C,H,W) or
// (N,H,W), either uint8 (0–255, scaled to [−1, 1] on read) or float32
// (already in [−1, 1]), and, when labelsKey is not empty, int64 labels (N)
// with classes classes.
func FromNPZ(path, key, labelsKey string, classes int) (*Images, error) {
	arrays, err := npzio.Read(path)
	if err != nil {
		return nil, err
	}
	a, ok := arrays[key]
	if !ok {
		return nil, fmt.Errorf("%s: no array %q", path, key)
	}
	var labels []int64
	if labelsKey != "" {
		l, ok := arrays[labelsKey]
		if !ok {
			return nil, fmt.Errorf("%s: no array %q", path, labelsKey)
		}
		if l.I64 == nil || len(l.Shape) != 1 {
			return nil, fmt.Errorf("%s: %q is %s %v, want int64 or int32 (N)", path, labelsKey, l.Dtype(), l.Shape)
		}
		labels = l.I64
	}
	return imagesFrom(path, key, a, labels, classes)
}

func imagesFrom(path, key string, a npzio.Array, labels []int64, classes int) (*Images, error) {
	shape := a.Shape
	if len(shape) == 3 {
		shape = []int{shape[0], 1, shape[1], shape[2]}
	}
	if len(shape) != 4 {
		return nil, fmt.Errorf("%s: %q has shape %v, want (N,C,H,W) or (N,H,W)", path, key, a.Shape)
	}
	d := &Images{Name: path, C: shape[1], H: shape[2], W: shape[3], Classes: classes, Labels: labels}
	switch {
	case a.U8 != nil:
		d.U8 = a.U8
	case a.F32 != nil:
		for i, v := range a.F32 {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%s: %q holds NaN or Inf at %d", path, key, i)
			}
		}
		d.F32 = a.F32
	default:
		return nil, fmt.Errorf("%s: %q is %s, want uint8 or float32", path, key, a.Dtype())
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return d, nil
}
