package datasets

import (
	"fmt"
	"math/rand/v2"
)

// Images is an in-memory set of labelled images, read out as float32 NCHW
// batches scaled to [−1, 1]. Pixels are stored either as bytes (U8, mapped
// v ↦ v/127.5 − 1) or as float32 already in model scale (F32), and may be
// zero-padded (in model scale: −1) on read, as MNIST's 28×28 digits are to
// 32×32.
type Images struct {
	Name    string
	C, H, W int     // stored size
	Pad     int     // pixels added on each side when read
	U8      []uint8 // N·C·H·W bytes, or nil
	F32     []float32
	Labels  []int64 // one per image, or nil
	Classes int     // number of classes (labels lie in [0, Classes))
}

// Len returns the number of images.
func (d *Images) Len() int {
	if d.U8 != nil {
		return len(d.U8) / (d.C * d.H * d.W)
	}
	return len(d.F32) / (d.C * d.H * d.W)
}

// Shape returns the channels, height and width of an image as read.
func (d *Images) Shape() (c, h, w int) { return d.C, d.H + 2*d.Pad, d.W + 2*d.Pad }

// check validates the sizes of the set.
func (d *Images) check() error {
	per := d.C * d.H * d.W
	if per <= 0 {
		return fmt.Errorf("%s: empty image size %d×%d×%d", d.Name, d.C, d.H, d.W)
	}
	if (d.U8 == nil) == (d.F32 == nil) {
		return fmt.Errorf("%s: exactly one of byte and float pixels must be set", d.Name)
	}
	if n := max(len(d.U8), len(d.F32)); n%per != 0 || n == 0 {
		return fmt.Errorf("%s: %d values do not make whole %d×%d×%d images", d.Name, n, d.C, d.H, d.W)
	}
	if d.Labels != nil {
		if len(d.Labels) != d.Len() {
			return fmt.Errorf("%s: %d labels for %d images", d.Name, len(d.Labels), d.Len())
		}
		for i, l := range d.Labels {
			if l < 0 || int(l) >= d.Classes {
				return fmt.Errorf("%s: label %d of image %d is outside [0,%d)", d.Name, l, i, d.Classes)
			}
		}
	}
	return nil
}

// Image writes image i, as read, into dst (C·H'·W' values).
func (d *Images) Image(i int, dst []float32) {
	c, h, w := d.Shape()
	per := d.C * d.H * d.W
	if d.Pad > 0 {
		for k := range dst[:c*h*w] {
			dst[k] = -1
		}
	}
	for ch := 0; ch < d.C; ch++ {
		for y := 0; y < d.H; y++ {
			row := dst[(ch*h+y+d.Pad)*w+d.Pad:][:d.W]
			off := i*per + (ch*d.H+y)*d.W
			if d.U8 != nil {
				for x, v := range d.U8[off : off+d.W] {
					row[x] = float32(v)/127.5 - 1
				}
			} else {
				copy(row, d.F32[off:off+d.W])
			}
		}
	}
}

// Batch writes the images idx into x (len(idx)·C·H'·W') and, when labels is
// not nil, their labels.
func (d *Images) Batch(idx []int, x []float32, labels []int64) {
	c, h, w := d.Shape()
	per := c * h * w
	for j, i := range idx {
		d.Image(i, x[j*per:(j+1)*per])
		if labels != nil && d.Labels != nil {
			labels[j] = d.Labels[i]
		}
	}
}

// Subset returns the first n images (a view sharing storage).
func (d *Images) Subset(n int) *Images {
	s := *d
	per := d.C * d.H * d.W
	n = min(n, d.Len())
	if d.U8 != nil {
		s.U8 = d.U8[:n*per]
	} else {
		s.F32 = d.F32[:n*per]
	}
	if d.Labels != nil {
		s.Labels = d.Labels[:n]
	}
	return &s
}

// Loader draws batches in a seeded random order, epoch after epoch: epoch e
// visits the images in the order of a permutation drawn from (seed, e), so
// the order depends only on the seed, and Epoch and Pos are all the state a
// resumed run needs.
type Loader struct {
	Data  *Images
	Batch int
	Seed  uint64
	Epoch int // current epoch
	Pos   int // next position in the epoch's permutation

	perm      []int
	permEpoch int
}

// NewLoader returns a loader at the start of epoch 0.
func NewLoader(d *Images, batch int, seed uint64) (*Loader, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("batch size %d must be positive", batch)
	}
	if d.Len() < batch {
		return nil, fmt.Errorf("%s has %d images, fewer than a batch of %d", d.Name, d.Len(), batch)
	}
	return &Loader{Data: d, Batch: batch, Seed: seed, permEpoch: -1}, nil
}

// Next fills x and labels with the next batch; an epoch's last partial
// batch is dropped.
func (l *Loader) Next(x []float32, labels []int64) {
	if l.Pos+l.Batch > l.Data.Len() {
		l.Epoch++
		l.Pos = 0
	}
	if l.permEpoch != l.Epoch {
		l.perm = rand.New(rand.NewPCG(l.Seed, uint64(l.Epoch))).Perm(l.Data.Len())
		l.permEpoch = l.Epoch
	}
	l.Data.Batch(l.perm[l.Pos:l.Pos+l.Batch], x, labels)
	l.Pos += l.Batch
}
