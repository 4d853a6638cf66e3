package videos

import (
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/npzio"
)

// ReadFrames reads a video: an .npz whose "frames" are (T, C, H, W) in
// [−1, 1], or an animated GIF (gray, each frame composed over what the
// last one's disposal method leaves, as GIF players show them). It returns the frames, T and (C, H, W). An empty
// video, frames of different sizes and a file that does not decode are
// errors naming the file.
func ReadFrames(path string) ([]float32, int, []int, error) {
	if strings.EqualFold(filepath.Ext(path), ".gif") {
		return readGIF(path)
	}
	arrays, err := npzio.Read(path)
	if err != nil {
		return nil, 0, nil, err
	}
	a, ok := arrays["frames"]
	if !ok {
		return nil, 0, nil, fmt.Errorf("%s has no array frames", path)
	}
	s := a.Shape
	if len(s) != 4 {
		return nil, 0, nil, fmt.Errorf("%s: frames has shape %v, want (T, C, H, W)", path, s)
	}
	if s[0] == 0 {
		return nil, 0, nil, fmt.Errorf("%s: an empty video (0 frames)", path)
	}
	v := a.Floats()
	if v == nil {
		return nil, 0, nil, fmt.Errorf("%s: frames are %s, not floating point", path, a.Dtype())
	}
	return v, s[0], s[1:], nil
}

func readGIF(path string) ([]float32, int, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	defer f.Close()
	g, err := gif.DecodeAll(f)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(g.Image) == 0 {
		return nil, 0, nil, fmt.Errorf("%s: an empty video (0 frames)", path)
	}
	w, h := g.Config.Width, g.Config.Height
	if w == 0 || h == 0 {
		b := g.Image[0].Bounds()
		w, h = b.Max.X, b.Max.Y
	}
	canvas := image.NewGray(image.Rect(0, 0, w, h))
	out := make([]float32, 0, len(g.Image)*w*h)
	var prev []uint8
	for i, fr := range g.Image {
		b := fr.Bounds()
		if !b.In(canvas.Bounds()) {
			return nil, 0, nil, fmt.Errorf("%s: frame %d (%v) lies outside the %d×%d video", path, i, b, w, h)
		}
		disposal := byte(0)
		if i < len(g.Disposal) {
			disposal = g.Disposal[i]
		}
		if disposal == gif.DisposalPrevious {
			prev = append(prev[:0], canvas.Pix...)
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := fr.At(x, y)
				if _, _, _, a := c.RGBA(); a == 0 {
					continue // transparent: the last frame shows through
				}
				canvas.Set(x, y, color.GrayModel.Convert(c))
			}
		}
		for _, v := range canvas.Pix {
			out = append(out, float32(v)/127.5-1)
		}
		// What the next frame is drawn over, as GIF players do it.
		switch disposal {
		case gif.DisposalBackground:
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					canvas.SetGray(x, y, color.Gray{})
				}
			}
		case gif.DisposalPrevious:
			copy(canvas.Pix, prev)
		}
	}
	return out, len(g.Image), []int{1, h, w}, nil
}

// WriteGIF writes rows of videos side by side as one animated GIF: each
// of videos is T frames of one channel of h×w in [−1, 1], drawn scale
// times larger, left to right with a gap, delay hundredths of a second per
// frame.
func WriteGIF(path string, videos [][]float32, t, h, w, scale, delay int) error {
	if len(videos) == 0 || t <= 0 {
		return fmt.Errorf("gif: nothing to write")
	}
	for i, v := range videos {
		if len(v) != t*h*w {
			return fmt.Errorf("gif: video %d has %d values, want %d frames of %d×%d", i, len(v), t, h, w)
		}
	}
	const gap = 2
	pal := make(color.Palette, 256)
	for i := range pal {
		pal[i] = color.Gray{Y: uint8(i)}
	}
	W := len(videos)*(w*scale+gap) - gap
	H := h * scale
	g := &gif.GIF{LoopCount: 0}
	for f := range t {
		img := image.NewPaletted(image.Rect(0, 0, W, H), pal)
		for i := range img.Pix {
			img.Pix[i] = 128 // the gap
		}
		for k, v := range videos {
			fr := v[f*h*w : (f+1)*h*w]
			for y := range H {
				for x := range w * scale {
					p := fr[(y/scale)*w+x/scale]
					img.Pix[y*img.Stride+k*(w*scale+gap)+x] = uint8(min(max((p+1)*127.5+0.5, 0), 255))
				}
			}
		}
		g.Image = append(g.Image, img)
		g.Delay = append(g.Delay, delay)
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error { return gif.EncodeAll(w, g) })
}
