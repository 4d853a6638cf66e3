package simd

import "unsafe"

// goKernel is the pure-Go micro-kernel of GemmPacked on the PureGo path.
var goKernel = kernel{mr: 4, nr: 8, fn: kernelGo}

func kernelGo(k int, a, b, c *float32, ldc int, acc bool) {
	as := unsafe.Slice(a, 4*k)
	bs := unsafe.Slice(b, 8*k)
	var t [4][8]float32
	for p := 0; p < k; p++ {
		ap := as[4*p : 4*p+4 : 4*p+4]
		bp := bs[8*p : 8*p+8 : 8*p+8]
		for r := 0; r < 4; r++ {
			x := ap[r]
			tr := &t[r]
			tr[0] += x * bp[0]
			tr[1] += x * bp[1]
			tr[2] += x * bp[2]
			tr[3] += x * bp[3]
			tr[4] += x * bp[4]
			tr[5] += x * bp[5]
			tr[6] += x * bp[6]
			tr[7] += x * bp[7]
		}
	}
	cs := unsafe.Slice(c, 3*ldc+8)
	for r := 0; r < 4; r++ {
		row := cs[r*ldc : r*ldc+8]
		if acc {
			for j, v := range t[r] {
				row[j] += v
			}
		} else {
			copy(row, t[r][:])
		}
	}
}
