package plots

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// GridImage lays out n images (NCHW float32 in [−1, 1], one or three
// channels) in rows of cols, each pixel drawn as a scale×scale block
// (nearest neighbour, no smoothing), with a pad-pixel gap. Values outside
// [−1, 1] are clipped.
func GridImage(x []float32, n, c, h, w, cols, scale, pad int) (*image.RGBA, error) {
	if n <= 0 || cols <= 0 || scale <= 0 || pad < 0 {
		return nil, fmt.Errorf("grid: bad layout n=%d cols=%d scale=%d pad=%d", n, cols, scale, pad)
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("grid: %d channels, want 1 or 3", c)
	}
	if len(x) < n*c*h*w {
		return nil, fmt.Errorf("grid: %d values for %d images of %d×%d×%d", len(x), n, c, h, w)
	}
	rows := (n + cols - 1) / cols
	cw, ch := w*scale+pad, h*scale+pad
	img := image.NewRGBA(image.Rect(0, 0, cols*cw+pad, rows*ch+pad))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	val := func(v float32) uint8 {
		f := (float64(v) + 1) / 2
		if math.IsNaN(f) {
			f = 0
		}
		return uint8(math.Round(255 * math.Max(0, math.Min(1, f))))
	}
	for i := 0; i < n; i++ {
		ox, oy := pad+(i%cols)*cw, pad+(i/cols)*ch
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				var col color.RGBA
				base := i * c * h * w
				if c == 1 {
					g := val(x[base+y*w+xx])
					col = color.RGBA{g, g, g, 255}
				} else {
					col = color.RGBA{val(x[base+y*w+xx]), val(x[base+h*w+y*w+xx]), val(x[base+2*h*w+y*w+xx]), 255}
				}
				for dy := 0; dy < scale; dy++ {
					for dx := 0; dx < scale; dx++ {
						img.SetRGBA(ox+xx*scale+dx, oy+y*scale+dy, col)
					}
				}
			}
		}
	}
	return img, nil
}

// SaveGridPNG writes GridImage as a PNG file, atomically.
func SaveGridPNG(path string, x []float32, n, c, h, w, cols, scale int) error {
	img, err := GridImage(x, n, c, h, w, cols, scale, 1)
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(path, func(wr io.Writer) error { return png.Encode(wr, img) })
}
