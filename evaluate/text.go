package evaluate

import (
	"fmt"
	"io"
	"math/rand/v2"
	"text/tabwriter"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/metrics"
)

// WriteTable writes the comparison as a two-column table: the method, its
// quality with 95% intervals, its cost, and against the reference its
// paired wall-time speed-up next to its FLOPs ratio and its distance.
func (c Comparison) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", c.Model)
	if c.Sampler != "" {
		fmt.Fprintf(tw, "sampler\t%s, %d steps, guidance %g, seed %d\n", c.Sampler, c.Steps, c.Guidance, c.Seed)
	}
	fmt.Fprintf(tw, "samples\t%d (reference %s)\n", c.N, c.Reference)
	fmt.Fprintf(tw, "FID-MNIST\t%.3f  [%.3f, %.3f]\n", c.FID.Value, c.FID.Lo, c.FID.Hi)
	fmt.Fprintf(tw, "KID\t%.3f  [%.3f, %.3f]\n", c.KID.Value, c.KID.Lo, c.KID.Hi)
	if a := c.Accuracy; a != nil {
		fmt.Fprintf(tw, "class accuracy\t%.4f  [%.4f, %.4f]\n", a.Value, a.Lo, a.Hi)
	}
	if p := c.Prompts; p != nil {
		iv := func(r captions.Rate) string {
			if r.Named == 0 {
				return "—"
			}
			return fmt.Sprintf("%.3f  [%.3f, %.3f]", r.Satisfied.Value, r.Satisfied.Lo, r.Satisfied.Hi)
		}
		fmt.Fprintf(tw, "prompt adherence\t%.3f  [%.3f, %.3f]  (real images: %.3f)\n", p.Samples.Share.Value, p.Samples.Share.Lo, p.Samples.Share.Hi, p.Ceiling.Share.Value)
		for _, a := range []struct {
			name string
			s, c captions.Rate
		}{{"digit", p.Samples.Digit, p.Ceiling.Digit}, {"size", p.Samples.Size, p.Ceiling.Size}, {"stroke", p.Samples.Stroke, p.Ceiling.Stroke},
			{"column", p.Samples.H, p.Ceiling.H}, {"row", p.Samples.V, p.Ceiling.V}} {
			fmt.Fprintf(tw, "  %s\t%s  (real images: %.3f; %d prompts name it)\n", a.name, iv(a.s), a.c.Satisfied.Value, a.s.Named)
		}
		fmt.Fprintf(tw, "  whole prompt\t%.3f  [%.3f, %.3f]  (real images: %.3f)\n", p.Samples.All.Value, p.Samples.All.Lo, p.Samples.All.Hi, p.Ceiling.All.Value)
	}
	if c.Sampler != "" {
		if c.TextGFLOPsPerSample > 0 {
			fmt.Fprintf(tw, "GFLOPs/sample\t%.3f (text encoder %.4f of it)\n", c.GFLOPsPerSample, c.TextGFLOPsPerSample)
		} else {
			fmt.Fprintf(tw, "GFLOPs/sample\t%.3f\n", c.GFLOPsPerSample)
		}
		fmt.Fprintf(tw, "ms/sample\t%.2f\n", c.MsPerSample)
	}
	if p := c.Paired; p != nil && c.RefGFLOPs > 0 {
		fmt.Fprintf(tw, "paired wall time\tplain %.2f, method %.2f ms/sample (median of %d alternating rounds of a batch of %d)\n", p.MsA, p.MsB, p.Rounds, p.Batch)
		flops := c.RefGFLOPs / c.GFLOPsPerSample
		fmt.Fprintf(tw, "speed-up\twall %.3f× [%.3f, %.3f] against FLOPs %.3f×: %.0f%% of the FLOPs ratio\n",
			p.Speedup.Value, p.Speedup.Lo, p.Speedup.Hi, flops, 100*p.Speedup.Value/flops)
		if ci := p.MedianCI; ci.Value > 0 {
			fmt.Fprintf(tw, "median's %.0f%% CI\twall %.3f× to %.3f×: %.0f%% to %.0f%% of the FLOPs ratio\n",
				100*ci.Value, ci.Lo, ci.Hi, 100*ci.Lo/flops, 100*ci.Hi/flops)
		}
	}
	if c.L2 != nil {
		fmt.Fprintf(tw, "L2 to the plain model\t%.3f  [%.3f, %.3f]\n", c.L2.Value, c.L2.Lo, c.L2.Hi)
		fmt.Fprintf(tw, "PSNR to the plain model\t%.2f dB  [%.2f, %.2f]\n", c.PSNR.Value, c.PSNR.Lo, c.PSNR.Hi)
	}
	return tw.Flush()
}

// Real measures n real images of a split (a seeded random subset: the
// MNIST test set is ordered by writer population) as Run measures samples:
// the floor of FID-MNIST and KID. The images are MNIST's, or with q.Data
// set those of that data specification (the captioned digits: their
// train split against the test split's reference).
func Real(c *metrics.Classifier, split string, n int, seed uint64, q metrics.QualityOptions) (Report, []float32, error) {
	data := q.Data
	if data == "" {
		data = "mnist"
	}
	var d *datasets.Images
	var err error
	if data == "mnist" {
		d, err = datasets.MNIST(split, "", true)
	} else {
		d, err = datasets.Open(data, split)
	}
	if err != nil {
		return Report{}, nil, err
	}
	if n > d.Len() {
		return Report{}, nil, fmt.Errorf("-n %d is larger than the %d images of %s-%s", n, d.Len(), data, split)
	}
	idx := rand.New(rand.NewPCG(seed, 0x5e7)).Perm(d.Len())[:n]
	x := make([]float32, n*32*32)
	labels := make([]int64, n)
	d.Batch(idx, x, labels)
	if data != "mnist" {
		labels = nil // the classifier reads centred MNIST digits only
	}
	qual, err := metrics.MeasureQuality(c, x, n, labels, q)
	if err != nil {
		return Report{}, nil, err
	}
	ref := q.Reference
	if ref == "" {
		ref = "test"
	}
	return Report{Model: data + "-" + split + " (real images, random subset)", N: n, Seed: seed, Reference: data + "-" + ref, Quality: qual}, x, nil
}
