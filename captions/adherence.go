package captions

import (
	"fmt"
	"io"
	"strings"

	"github.com/clockwork-go/clockwork/metrics"
)

// Rate is how often images have an attribute their prompts name.
type Rate struct {
	// Named is the number of images whose prompt names the attribute.
	Named int `json:"named"`
	// Satisfied is the share of those images that have it, with its exact
	// 95% interval (metrics.Proportion); zero when Named is 0.
	Satisfied metrics.Interval `json:"satisfied"`
}

// Report is the prompt adherence of a set of images: per attribute, the
// share of images that have the value their prompt names, and per image
// the share of its prompt's named attributes it has.
type Report struct {
	Images int  `json:"images"`
	Digit  Rate `json:"digit"`
	Size   Rate `json:"size"`
	Stroke Rate `json:"stroke"`
	H      Rate `json:"column"`
	V      Rate `json:"row"`
	// Share is the mean over images of the share of their prompt's named
	// attributes they have (the score: 1 when every image has everything
	// its prompt asks for).
	Share metrics.Interval `json:"share"`
	// All is the share of images that have every attribute their prompt
	// names, with its exact 95% interval (metrics.Proportion).
	All metrics.Interval `json:"all"`
}

// Adherence measures n generated 32×32 images in [−1, 1] (n·Side·Side
// values) with m and returns how well they have what their prompts (one
// per image) ask for, with 95% intervals that stay inside [0, 1]: exact
// ones for the shares of images (metrics.Proportion), a bootstrap over
// reps resamples of the images drawn from seed, cut to [0, 1], for the
// mean share (metrics.Mean). Real images measured against
// their own captions give the ceiling (compare Measurer.Accuracy); against
// another image's caption, chance. Wrong lengths, invalid prompts, NaN or
// infinite pixels and fewer than 2 resamples are errors.
func Adherence(m *Measurer, images []float32, n int, prompts []Prompt, reps int, seed uint64) (Report, error) {
	if n <= 0 {
		return Report{}, fmt.Errorf("captions: adherence: %d images: the number must be positive", n)
	}
	if len(images) != n*Side*Side {
		return Report{}, fmt.Errorf("captions: adherence: %d values for %d 32×32 images", len(images), n)
	}
	if len(prompts) != n {
		return Report{}, fmt.Errorf("captions: adherence: %d prompts for %d images", len(prompts), n)
	}
	for i, p := range prompts {
		if err := p.Valid(); err != nil {
			return Report{}, fmt.Errorf("captions: adherence: prompt %d: %w", i, err)
		}
	}
	if reps < 2 {
		return Report{}, fmt.Errorf("captions: adherence: %d bootstrap resamples; it takes at least 2", reps)
	}
	got, err := m.Measure(images, n)
	if err != nil {
		return Report{}, fmt.Errorf("captions: adherence: %w", err)
	}
	var per [5][]bool // per image naming the attribute: has it
	share := make([]float64, n)
	all := make([]bool, n)
	for i, p := range prompts {
		a := got[i]
		for k, c := range []struct{ named, ok bool }{
			{true, p.Digit == a.Digit},
			{p.Size != AnySize, p.Size == a.Size},
			{p.Stroke != AnyStroke, p.Stroke == a.Stroke},
			{p.H != AnyH, p.H == a.H},
			{p.V != AnyV, p.V == a.V},
		} {
			if c.named {
				per[k] = append(per[k], c.ok)
			}
		}
		ok := p.Satisfied(a)
		share[i] = float64(ok) / float64(p.Named())
		all[i] = ok == p.Named()
	}
	r := Report{Images: n}
	for k, rate := range []*Rate{&r.Digit, &r.Size, &r.Stroke, &r.H, &r.V} {
		rate.Named = len(per[k])
		if rate.Named == 0 {
			continue
		}
		if rate.Satisfied, err = metrics.Hits(per[k]); err != nil {
			return Report{}, fmt.Errorf("captions: adherence: %w", err)
		}
	}
	if r.Share, err = metrics.Mean(share, reps, seed+5); err != nil {
		return Report{}, fmt.Errorf("captions: adherence: %w", err)
	}
	if r.All, err = metrics.Hits(all); err != nil {
		return Report{}, fmt.Errorf("captions: adherence: %w", err)
	}
	return r, nil
}

// WriteTable writes the report as a Markdown table: each attribute with
// the number of prompts naming it and the share of those images that have
// it, then the mean share and the share with everything.
func (r Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "| attribute | prompts naming it | satisfied (95%% interval) |\n")
	fmt.Fprintf(&b, "|---|---:|---|\n")
	iv := func(v metrics.Interval) string { return fmt.Sprintf("%.3f [%.3f, %.3f]", v.Value, v.Lo, v.Hi) }
	for _, row := range []struct {
		name string
		r    Rate
	}{{"digit", r.Digit}, {"size", r.Size}, {"stroke", r.Stroke}, {"column", r.H}, {"row", r.V}} {
		s := "—"
		if row.r.Named > 0 {
			s = iv(row.r.Satisfied)
		}
		fmt.Fprintf(&b, "| %s | %d | %s |\n", row.name, row.r.Named, s)
	}
	fmt.Fprintf(&b, "| mean share of a prompt | %d | %s |\n", r.Images, iv(r.Share))
	fmt.Fprintf(&b, "| whole prompt | %d | %s |\n", r.Images, iv(r.All))
	_, err := io.WriteString(w, b.String())
	return err
}
