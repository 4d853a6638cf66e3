package metrics

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Spectrum splits the energy of h×w images by spatial frequency with a 2-D
// discrete Fourier transform (gonum's dsp/fourier, rows then columns).
type Spectrum struct {
	h, w     int
	rows     *fourier.CmplxFFT
	cols     *fourier.CmplxFFT
	buf, col []complex128
	tmp      []complex128
}

// NewSpectrum returns a Spectrum for h×w images.
func NewSpectrum(h, w int) *Spectrum {
	return &Spectrum{h: h, w: w, rows: fourier.NewCmplxFFT(w), cols: fourier.NewCmplxFFT(h),
		buf: make([]complex128, h*w), col: make([]complex128, h), tmp: make([]complex128, max(h, w))}
}

// HighEnergy returns the energy (sum of squared DFT magnitudes, which by
// Parseval is h·w times the sum of squares) of an image x (h·w values)
// above a radial frequency cutoff, in cycles per pixel (the Nyquist
// frequency is 0.5), and the total.
func (s *Spectrum) HighEnergy(x []float32, cutoff float64) (high, total float64, err error) {
	if len(x) != s.h*s.w {
		return 0, 0, fmt.Errorf("spectrum: %d values for a %d×%d image", len(x), s.h, s.w)
	}
	for i := 0; i < s.h; i++ {
		row := s.tmp[:s.w]
		for j := range row {
			row[j] = complex(float64(x[i*s.w+j]), 0)
		}
		s.rows.Coefficients(s.buf[i*s.w:(i+1)*s.w], row)
	}
	for j := 0; j < s.w; j++ {
		for i := 0; i < s.h; i++ {
			s.col[i] = s.buf[i*s.w+j]
		}
		out := s.cols.Coefficients(s.tmp[:s.h], s.col)
		fj := s.rows.Freq(j)
		for i, c := range out {
			fi := s.cols.Freq(i)
			e := real(c)*real(c) + imag(c)*imag(c)
			total += e
			if math.Hypot(fi, fj) > cutoff {
				high += e
			}
		}
	}
	return high, total, nil
}
