//go:build !amd64

package simd

func vecLanes() int { return 0 }

func affineSiLUAsm(dst, src []float32, n int, a, b float32)                                {}
func affineAsm(dst, src []float32, n int, a, b float32)                                    {}
func sumDevAsm(x []float32, n int, m float32, acc *[32]float32)                            {}
func sumDev4Asm(x *[4][]float32, n int, m *[4]float32, acc *[128]float32)                  {}
func gnBackwardAsm(dy, gz, x []float32, n int, p *[4]float32, silu bool, acc *[32]float32) {}
func axpbycAsm(dst, y, x []float32, n int, p *[3]float32)                                  {}
func padRowsAsm(dst, src []float32, rows, w, stride, gap int)                              {}
func affineRowsAsm(dst, src []float32, rows, w, ds, ss int, a, b float32)                  {}

func expShiftAsm(dst, src []float32, n int, m float32, acc *[32]float32) {}

func maxAsm(x []float32, n int, acc *[32]float32)             {}
func dotAsm(a, b []float32, n int, acc *[32]float32)          {}
func softmaxGradAsm(dp, p []float32, n int, d, scale float32) {}

func winoSplit256(q, src *float32, h, w int, off *[4]int, adv int)               {}
func winoIn256(v *float32, vs int, q *float32, l, tx, rows, adv int)             {}
func winoIn512(v *float32, vs int, q *float32, l, tx, rows, adv int)             {}
func winoOut256(y *float32, wo int, m *float32, ms int, tx, rows int, b float32) {}
func winoOutE256(y *float32, wo int, m *float32, ms int, tx, rows int, b, e float32, skip *float32, s float32) {
}
func winoOutR256(y *float32, wo int, m *float32, ms int, tx, rows int, b, e float32, skip *float32, s float32) {
}
func winoOutER256(y *float32, wo int, m *float32, ms int, tx, rows int, b, e float32, skip *float32, s float32) {
}

func winoSplit128(q, src *float32, h, w int, off *[4]int, adv int)               {}
func winoIn128(v *float32, vs int, q *float32, l, tx, rows, adv int)             {}
func winoOut128(y *float32, wo int, m *float32, ms int, tx, rows int, b float32) {}
func winoOutE128(y *float32, wo int, m *float32, ms int, tx, rows int, b, e float32, skip *float32, s float32) {
}
func winoOutR128(y *float32, wo int, m *float32, ms int, tx, rows int, b, e float32, skip *float32, s float32) {
}
func winoOutER128(y *float32, wo int, m *float32, ms int, tx, rows int, b, e float32, skip *float32, s float32) {
}

func pack8x8(dst, a *float32, lda, kk, ds int) {}

func pack6x4(dst, a *float32, lda, kk int) {}

func packB32(dst, b *float32, ldb, kk, panels int) {}

func packB16(dst, b *float32, ldb, kk, panels int) {}

func packRows16(dst, base *float32, off *int, kk int) {}
func packRows32(dst, base *float32, off *int, kk int) {}

func pool2x512(dst, src *float32, rows, w int, scale float32) {}

func toSpaceAdd4x512(out, base, deep *float32, h, w int) {}
