package datasets

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
)

// Images is an in-memory set of labelled images, read out as float32 NCHW
// batches scaled to [−1, 1]. Pixels are stored either as bytes (U8, mapped
// v ↦ v/127.5 − 1) or as float32 already in model scale (F32), and may be
// zero-padded (in model scale: −1) on read, as MNIST's 28×28 digits are to
// 32×32.
type Images struct {
	Name string
	// Source is the data specification the set was opened from (Open's
	// argument: "mnist", "shapes:64", "npz:PATH"), empty when built
	// otherwise.
	Source  string
	C, H, W int     // stored size
	Pad     int     // pixels added on each side when read
	U8      []uint8 // N·C·H·W bytes, or nil
	F32     []float32
	Labels  []int64 // one per image, or nil
	Classes int     // number of classes (labels lie in [0, Classes))
	// Captions describe the images in words, one per image, or nil: what
	// a text-conditioned model is trained on.
	Captions []string
	// Inputs are the images a model is conditioned on, one per image, of
	// the same size, or nil: the source images of an editor
	// (InstructPix2Pix), whose images are the edits.
	Inputs *Images
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
	if d.Captions != nil && len(d.Captions) != d.Len() {
		return fmt.Errorf("%s: %d captions for %d images", d.Name, len(d.Captions), d.Len())
	}
	if in := d.Inputs; in != nil {
		if in.C != d.C || in.H != d.H || in.W != d.W || in.Pad != d.Pad {
			return fmt.Errorf("%s: input images %s of %d×%d×%d (padding %d) for images of %d×%d×%d (padding %d)", d.Name, in.Name, in.C, in.H, in.W, in.Pad, d.C, d.H, d.W, d.Pad)
		}
		if err := in.check(); err != nil {
			return err
		}
		if in.Len() != d.Len() {
			return fmt.Errorf("%s: %d input images for %d images", d.Name, in.Len(), d.Len())
		}
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
	if d.Captions != nil {
		s.Captions = d.Captions[:n]
	}
	if d.Inputs != nil {
		s.Inputs = d.Inputs.Subset(n)
	}
	return &s
}

// Info identifies an image set: what a run directory records of the data
// it was trained on, so that a resume with other data is noticed.
type Info struct {
	Source  string `json:"spec,omitempty"` // as given (Images.Source)
	Name    string `json:"name"`
	N       int    `json:"images"`
	C       int    `json:"channels"`
	H       int    `json:"height"` // as read (padding included)
	W       int    `json:"width"`
	Classes int    `json:"classes,omitempty"`
	// SHA256 is a digest of the pixels as stored, the padding, the labels,
	// the captions and the input images: equal digests mean the same images in the same
	// order.
	SHA256 string `json:"sha256"`
}

// Info describes the set. Its digest reads every pixel once (a fraction of
// a second for MNIST).
func (d *Images) Info() Info {
	c, h, w := d.Shape()
	hs := sha256.New()
	var hdr [8 * 5]byte
	for i, v := range []int{d.C, d.H, d.W, d.Pad, d.Classes} {
		binary.LittleEndian.PutUint64(hdr[8*i:], uint64(v))
	}
	hs.Write(hdr[:])
	if d.U8 != nil {
		hs.Write([]byte("u8"))
		hs.Write(d.U8)
	} else {
		hs.Write([]byte("f32"))
		var b [4]byte
		buf := make([]byte, 0, 4096)
		for _, v := range d.F32 {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			buf = append(buf, b[:]...)
			if len(buf) == cap(buf) {
				hs.Write(buf)
				buf = buf[:0]
			}
		}
		hs.Write(buf)
	}
	if d.Labels != nil {
		hs.Write([]byte("labels"))
		var b [8]byte
		for _, l := range d.Labels {
			binary.LittleEndian.PutUint64(b[:], uint64(l))
			hs.Write(b[:])
		}
	}
	if d.Captions != nil {
		hs.Write([]byte("captions"))
		var b [8]byte
		for _, c := range d.Captions {
			binary.LittleEndian.PutUint64(b[:], uint64(len(c)))
			hs.Write(b[:])
			hs.Write([]byte(c))
		}
	}
	if d.Inputs != nil {
		hs.Write([]byte("inputs"))
		hs.Write([]byte(d.Inputs.Info().SHA256))
	}
	return Info{Source: d.Source, Name: d.Name, N: d.Len(), C: c, H: h, W: w, Classes: d.Classes, SHA256: hex.EncodeToString(hs.Sum(nil))}
}

// Same reports whether two descriptions are of the same images.
func (i Info) Same(o Info) bool {
	return i.SHA256 == o.SHA256 && i.N == o.N && i.C == o.C && i.H == o.H && i.W == o.W
}

// String describes the set for messages: "shapes:64 (64 images of 3×32×32,
// sha256 1a2b3c4d…)".
func (i Info) String() string {
	name := i.Source
	if name == "" {
		name = i.Name
	}
	d := i.SHA256
	if len(d) > 12 {
		d = d[:12] + "…"
	}
	return fmt.Sprintf("%s (%d images of %d×%d×%d, sha256 %s)", name, i.N, i.C, i.H, i.W, d)
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

// Position returns where a loader that has drawn steps batches from the
// start of epoch 0 stands: Epoch and Pos as Next leaves them.
func (l *Loader) Position(steps int) (epoch, pos int) {
	if steps <= 0 {
		return 0, 0
	}
	per := l.Data.Len() / l.Batch // whole batches in an epoch
	return (steps - 1) / per, ((steps-1)%per + 1) * l.Batch
}

// Restore sets the loader's position (from a checkpoint), after checking
// that it is one Next can continue from: an epoch ≥ 0 and a position in
// [0, images], a multiple of the batch size.
func (l *Loader) Restore(epoch, pos int) error {
	if epoch < 0 {
		return fmt.Errorf("epoch %d is negative", epoch)
	}
	if pos < 0 || pos > l.Data.Len() || pos%l.Batch != 0 {
		return fmt.Errorf("data position %d is not a multiple of the batch size %d in [0, %d] (the images of %s)", pos, l.Batch, l.Data.Len(), l.Data.Name)
	}
	l.Epoch, l.Pos = epoch, pos
	return nil
}

// Next fills x and labels with the next batch and returns the indices of
// its images (valid until the next call); an epoch's last partial batch is
// dropped.
func (l *Loader) Next(x []float32, labels []int64) []int {
	if l.Pos+l.Batch > l.Data.Len() {
		l.Epoch++
		l.Pos = 0
	}
	if l.permEpoch != l.Epoch {
		l.perm = rand.New(rand.NewPCG(l.Seed, uint64(l.Epoch))).Perm(l.Data.Len())
		l.permEpoch = l.Epoch
	}
	idx := l.perm[l.Pos : l.Pos+l.Batch]
	l.Data.Batch(idx, x, labels)
	l.Pos += l.Batch
	return idx
}
