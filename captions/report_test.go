package captions

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestReport prints the figures the package documentation quotes: the
// generation speed, the measurer's accuracy (the adherence ceiling) in
// both framings and the adherence of real images to their own and to
// shuffled captions. It takes about a minute; run it with
//
//	CAPTIONS_REPORT=1 go test -run TestReport -v ./captions
func TestReport(t *testing.T) {
	if os.Getenv("CAPTIONS_REPORT") == "" {
		t.Skip("set CAPTIONS_REPORT=1 to print the report")
	}
	src := source(t)
	start := time.Now()
	big, err := Generate(src, 60000, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d images in %v (one goroutine)", big.Len(), time.Since(start).Round(time.Millisecond))
	cal, err := Generate(src, 5000, 1)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	m, err := Calibrate(cal)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("calibrated on %d training images in %v: %+v", cal.Len(), time.Since(start).Round(time.Millisecond), m.Calibration)
	t.Logf("thresholds: large above height %g; small %+v; large %+v", m.LargeHeight, m.Small, m.Large)
	held, err := Open("test", 10000, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range []string{FrameCrop, FrameWhole} {
		mm := *m
		mm.Framing = fr
		start = time.Now()
		acc, err := mm.Accuracy(held)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("held out (MNIST test digits), %s framing: %v (%v)", fr, acc, time.Since(start).Round(time.Millisecond))
	}
	// The digit's accuracy by size and stroke.
	n := held.Len()
	x := make([]float32, n*Side*Side)
	held.Images.Batch(seq(n), x, nil)
	got, err := m.Measure(x, n)
	if err != nil {
		t.Fatal(err)
	}
	var ok, tot [3][4]float64
	for i, g := range got {
		a := held.Attrs[i]
		tot[a.Size][a.Stroke]++
		ok[a.Size][a.Stroke] += b2f(g.Digit == a.Digit)
	}
	for sz := Small; sz <= Large; sz++ {
		t.Logf("digit accuracy, %s: thin %.3f, normal %.3f, thick %.3f", sz, ok[sz][Thin]/tot[sz][Thin], ok[sz][Normal]/tot[sz][Normal], ok[sz][Thick]/tot[sz][Thick])
	}
	own, err := Adherence(m, x, n, held.Prompts, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := make([]Prompt, n)
	for i := range shuffled {
		shuffled[i] = held.Prompts[(i+n/2)%n]
	}
	other, err := Adherence(m, x, n, shuffled, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("real images, own captions:\n")
	own.WriteTable(&b)
	b.WriteString("\nreal images, shuffled captions:\n")
	other.WriteTable(&b)
	t.Log("\n" + b.String())
}
