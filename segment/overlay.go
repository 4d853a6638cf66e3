package segment

// ClassColors are the colours of the digit scenes' classes in overlays:
// black background, then one colour per digit 0–9 (the Okabe–Ito palette's
// seven hues and three more; ten classes cannot all stay distinct under
// every colour-vision deficiency, so figures name the classes beside
// them).
var ClassColors = [][3]uint8{
	{0, 0, 0},
	{0x00, 0x72, 0xB2}, {0xE6, 0x9F, 0x00}, {0x00, 0x9E, 0x73}, {0xD5, 0x5E, 0x00}, {0xCC, 0x79, 0xA7},
	{0x56, 0xB4, 0xE9}, {0xF0, 0xE4, 0x42}, {0xFF, 0xFF, 0xFF}, {0x88, 0x44, 0x00}, {0x99, 0x99, 0x33},
}

// Overlay returns a (3, pixels) RGB image in [−1, 1] of a mask's class
// colours over a grey image (values in [−1, 1]): the class colour where
// the mask is not background, the image at half brightness elsewhere.
// Class ids beyond the palette are drawn in grey.
func Overlay(img []float32, mask []uint8) []float32 {
	p := len(mask)
	out := make([]float32, 3*p)
	for j, c := range mask {
		g := (img[j] + 1) / 2 * 0.5
		for ch := range 3 {
			v := g
			if c != 0 {
				v = 0.5
				if int(c) < len(ClassColors) {
					v = float32(ClassColors[c][ch]) / 255
				}
			}
			out[ch*p+j] = 2*v - 1
		}
	}
	return out
}
