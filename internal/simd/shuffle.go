package simd

// Pool2x writes rows output rows of w values: dst[q·w + x] is the sum of
// the 2×2 block of src at rows 2q and 2q+1 (2w values each) and columns 2x
// and 2x+1, in the order ((a0+a1)+b0)+b1 with a the upper row, times scale
// (a multiply by 1 changes nothing). The rows of an image's consecutive
// planes are consecutive rows here, so one call pools a whole tensor.
func Pool2x(dst, src []float32, rows, w int, scale float32) {
	dst, src = dst[:rows*w], src[:4*rows*w]
	if path == AVX512 && w%16 == 0 && rows > 0 && w > 0 {
		pool2x512(&dst[0], &src[0], rows, w, scale)
		return
	}
	for q := 0; q < rows; q++ {
		r0 := src[2*q*2*w : (2*q+1)*2*w : (2*q+1)*2*w]
		r1 := src[(2*q+1)*2*w : (2*q+2)*2*w : (2*q+2)*2*w]
		d := dst[q*w : (q+1)*w : (q+1)*w]
		if scale == 1 {
			for x := range d {
				a, b := r0[2*x:2*x+2:2*x+2], r1[2*x:2*x+2:2*x+2]
				d[x] = a[0] + a[1] + b[0] + b[1]
			}
			continue
		}
		for x := range d {
			a, b := r0[2*x:2*x+2:2*x+2], r1[2*x:2*x+2:2*x+2]
			d[x] = (a[0] + a[1] + b[0] + b[1]) * scale
		}
	}
}

// ToSpaceAdd4 writes one plane of a 4× depth-to-space with a residual:
// out and base are 4h×4w, deep is 16 channels of h×w, and
// out[(4y+i)·4w + 4x+j] = base[(4y+i)·4w + 4x+j] + deep[(4i+j)·h·w + y·w + x].
func ToSpaceAdd4(out, base, deep []float32, h, w int) {
	n := 16 * h * w
	out, base, deep = out[:n], base[:n], deep[:n]
	if path == AVX512 && w%8 == 0 && h > 0 && w > 0 {
		toSpaceAdd4x512(&out[0], &base[0], &deep[0], h, w)
		return
	}
	W := 4 * w
	for y := 0; y < h; y++ {
		for i := 0; i < 4; i++ {
			off := (y*4 + i) * W
			row, b := out[off:off+W:off+W], base[off:off+W:off+W]
			o := (4*i)*h*w + y*w
			s0 := deep[o : o+w : o+w]
			s1 := deep[o+h*w : o+h*w+w : o+h*w+w]
			s2 := deep[o+2*h*w : o+2*h*w+w : o+2*h*w+w]
			s3 := deep[o+3*h*w : o+3*h*w+w : o+3*h*w+w]
			for x := range s0 {
				r, c := row[4*x:4*x+4:4*x+4], b[4*x:4*x+4:4*x+4]
				r[0], r[1], r[2], r[3] = c[0]+s0[x], c[1]+s1[x], c[2]+s2[x], c[3]+s3[x]
			}
		}
	}
}
