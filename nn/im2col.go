package nn

import "github.com/clockwork-go/clockwork/internal/simd"

// im2col writes the (C·KH·KW)×(Ho·Wo) patch matrix of one C×H×W image.
func im2col(x []float32, ch, h, w int, c ConvGeom, col []float32) {
	ho, wo := c.Out(h, w)
	n := ho * wo
	for ci := 0; ci < ch; ci++ {
		xc := x[ci*h*w : (ci+1)*h*w]
		for ky := 0; ky < c.KH; ky++ {
			for kx := 0; kx < c.KW; kx++ {
				row := col[((ci*c.KH+ky)*c.KW+kx)*n:][:n]
				for oy := 0; oy < ho; oy++ {
					iy := oy*c.Stride + ky - c.PadT
					dst := row[oy*wo : (oy+1)*wo]
					if iy < 0 || iy >= h {
						clear(dst)
						continue
					}
					src := xc[iy*w : (iy+1)*w]
					for ox := range dst {
						ix := ox*c.Stride + kx - c.PadL
						if ix < 0 || ix >= w {
							dst[ox] = 0
						} else {
							dst[ox] = src[ix]
						}
					}
				}
			}
		}
	}
}

// col2im adds a patch matrix back into one C×H×W image gradient (which it
// zeroes first).
func col2im(col []float32, ch, h, w int, c ConvGeom, dx []float32) {
	clear(dx[:ch*h*w])
	ho, wo := c.Out(h, w)
	n := ho * wo
	for ci := 0; ci < ch; ci++ {
		xc := dx[ci*h*w : (ci+1)*h*w]
		for ky := 0; ky < c.KH; ky++ {
			for kx := 0; kx < c.KW; kx++ {
				row := col[((ci*c.KH+ky)*c.KW+kx)*n:][:n]
				for oy := 0; oy < ho; oy++ {
					iy := oy*c.Stride + ky - c.PadT
					if iy < 0 || iy >= h {
						continue
					}
					src := row[oy*wo : (oy+1)*wo]
					dst := xc[iy*w : (iy+1)*w]
					for ox, v := range src {
						ix := ox*c.Stride + kx - c.PadL
						if ix >= 0 && ix < w {
							dst[ix] += v
						}
					}
				}
			}
		}
	}
}

// im2colForward is the strided convolution: per sample an im2col matrix and
// a GEMM, samples spread across cores.
func im2colForward(y, x, w, bias []float32, n, c, h, wd, o int, geom ConvGeom) {
	ho, wo := geom.Out(h, wd)
	k, p := c*geom.KH*geom.KW, ho*wo
	simd.Parallel(n, o*k*p, func(lo, hi int) {
		col := getScratch(k * p)
		defer putScratch(col)
		for i := lo; i < hi; i++ {
			im2col(x[i*c*h*wd:(i+1)*c*h*wd], c, h, wd, geom, col)
			yi := y[i*o*p : (i+1)*o*p]
			beta := float32(0)
			if bias != nil {
				for oc := 0; oc < o; oc++ {
					fill(yi[oc*p:(oc+1)*p], bias[oc])
				}
				beta = 1
			}
			simd.GemmPacked(o, p, k, simd.DenseA(w, k, false, 1), simd.DenseB(col, p, false), beta, yi, p)
		}
	})
}

// im2colBackwardData is the input gradient of a strided convolution: per
// sample Wᵀ·dY into a patch matrix, added back with col2im.
func im2colBackwardData(dx, w, gy []float32, n, c, h, wd, o int, geom ConvGeom) {
	ho, wo := geom.Out(h, wd)
	k, p := c*geom.KH*geom.KW, ho*wo
	simd.Parallel(n, o*k*p, func(lo, hi int) {
		col := getScratch(k * p)
		defer putScratch(col)
		for i := lo; i < hi; i++ {
			simd.GemmPacked(k, p, o, simd.DenseA(w, k, true, 1), simd.DenseB(gy[i*o*p:(i+1)*o*p], p, false), 0, col, p)
			col2im(col, c, h, wd, geom, dx[i*c*h*wd:(i+1)*c*h*wd])
		}
	})
}
