package study

import (
	"encoding/base64"
	"math"
)

// EncodeSamples stores images in [−1, 1] as 8-bit values in base64.
func EncodeSamples(x []float32) string {
	b := make([]byte, len(x))
	for i, v := range x {
		b[i] = byte(math.Round((math.Max(-1, math.Min(1, float64(v))) + 1) * 127.5))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeSamples reverses EncodeSamples.
func DecodeSamples(s string) ([]float32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	x := make([]float32, len(b))
	for i, v := range b {
		x[i] = float32(v)/127.5 - 1
	}
	return x, nil
}
