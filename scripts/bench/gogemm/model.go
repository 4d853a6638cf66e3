package main

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/internal/simd"
	"github.com/clockwork-go/clockwork/unet"
)

// recordModel records the products of one full and one adaptor step of
// Clockwork on the config's U-Net (random weights: only shapes matter) with
// a ResNet adaptor at the first cut, sampling each batch size with DDIM,
// and returns them grouped by batch and shape, the most FLOPs first.
func recordModel(config string, batches []int) ([]group, error) {
	c, err := unet.ConfigFrom(config)
	if err != nil {
		return nil, err
	}
	m, err := unet.New(c, 1)
	if err != nil {
		return nil, err
	}
	a, err := distill.New(m, distill.AdaptorConfig{Kind: "resnet", Depth: 1, Steps: 2}, 1)
	if err != nil {
		return nil, err
	}
	clock, err := distill.ClockAt(2, 2)
	if err != nil {
		return nil, err
	}
	h, w, err := c.SampleHW()
	if err != nil {
		return nil, err
	}
	s, err := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	if err != nil {
		return nil, err
	}
	var out []group
	for _, b := range batches {
		cw, err := distill.NewClockwork(m, a, clock)
		if err != nil {
			return nil, err
		}
		o := diffusion.Options{Sampler: "ddim", Steps: 2, Seed: 1}
		if k := c.NumClasses(); k > 0 {
			labels := make([]int64, b)
			for i := range labels {
				labels[i] = int64(i % k)
			}
			o.Cond = diffusion.Labels(labels)
		}
		simd.StartRecording()
		_, err = diffusion.SampleMany(cw, s, []int{c.InChannels, h, w}, b, b, o, nil)
		rec := simd.StopRecording()
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", b, err)
		}
		var gs []group
		for sh, n := range rec {
			gs = append(gs, group{Batch: b, Kind: sh.Kind, M: sh.M, N: sh.N, K: sh.K, Count: n})
		}
		slices.SortFunc(gs, func(x, y group) int {
			if d := y.flops() - x.flops(); d != 0 {
				if d > 0 {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.M, y.M), cmp.Compare(x.N, y.N), cmp.Compare(x.K, y.K))
		})
		out = append(out, gs...)
	}
	return out, nil
}
