package unet

import (
	"fmt"

	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/nn"
)

// Memory estimates from shapes alone, so that a size that cannot fit is
// refused before anything is allocated. They are lower bounds: the
// compiled graphs keep more than the tensors counted here.

// ParamCount returns the number of parameters of the config's model,
// counted from their shapes without allocating them (a float64, so that
// absurd widths do not overflow).
func (c Config) ParamCount() (float64, error) {
	p, err := newPlan(c)
	if err != nil {
		return 0, err
	}
	ps := nn.NewShapeOnlyParams()
	p.declare(c, ps, 0)
	return ps.Size(), nil
}

// CheckParamMemory refuses, as an error naming the keys that size them, a
// config whose weights alone do not fit in the memory available (New
// checks it before allocating them).
func (c Config) CheckParamMemory() error {
	n, err := c.ParamCount()
	if err != nil {
		return err
	}
	return sysmem.Check(4*n, fmt.Sprintf("config: block_out_channels %v with layers_per_block %d (%.3g parameters of float32)", c.BlockOutChannels, c.LayersPerBlock, n))
}

// Levels returns the number of resolutions the U-Net works at: one more
// than its down-sampling steps.
func (c Config) Levels() int { return len(c.BlockOutChannels) }

// CheckSize reports whether h×w images fit the U-Net: each of its
// down-sampling steps halves them and each up-sampling step doubles them
// back, so both sides must be multiples of 2^(levels−1). The error names
// the size and the multiple.
func (c Config) CheckSize(h, w int) error {
	if h <= 0 || w <= 0 {
		return fmt.Errorf("images of %d×%d: height and width must be positive", h, w)
	}
	n := c.Levels()
	f := 1 << (n - 1)
	if h%f != 0 || w%f != 0 {
		return fmt.Errorf("images of %d×%d do not fit this U-Net: %d×%d is not divisible by %d, as its %d levels halve the images %d times (block_out_channels has %d entries)", h, w, h, w, f, n, n-1, n)
	}
	return nil
}

// ActivationBytes estimates the memory of the feature maps a forward pass
// of one h×w sample computes: every resnet's and attention's outputs and
// intermediates, the resampled maps and the skip connections, in float32.
// A training step keeps them all for its backward pass (it takes 1.5 to 2
// times as much in all); a forward pass alone, whose memory is planned,
// holds about a third of them at once.
func (c Config) ActivationBytes(h, w int) (float64, error) {
	p, err := newPlan(c)
	if err != nil {
		return 0, err
	}
	var elems float64
	res := func(r nn.ResBlock, l float64) {
		// norm1 (with SiLU), conv1, the time embedding added, norm2,
		// conv2, the shortcut and the residual sum.
		elems += l * (float64(r.In) + 5*float64(r.Out))
		if r.In != r.Out {
			elems += l * float64(r.Out)
		}
	}
	attn := func(a attnBlock, l float64) {
		// Text tokens count as one: a lower bound.
		elems += a.activations(l, 1)
	}
	layers := func(b blockPlan, l float64) {
		for j, r := range b.resnets {
			res(r, l)
			if len(b.attns) > 0 {
				attn(b.attns[j], l)
			}
		}
	}
	hh, ww := float64(h), float64(w)
	elems += hh * ww * float64(c.InChannels+c.BlockOutChannels[0])
	for _, b := range p.down {
		layers(b, hh*ww)
		if b.resample {
			hh, ww = float64((int(hh)+1)/2), float64((int(ww)+1)/2)
			elems += hh * ww * float64(b.out)
		}
	}
	if p.mid != nil {
		res(p.mid.resnets[0], hh*ww)
		if p.mid.attn != nil {
			attn(p.mid.attn, hh*ww)
		}
		res(p.mid.resnets[1], hh*ww)
	}
	for _, b := range p.up {
		layers(b, hh*ww)
		if b.resample {
			hh, ww = 2*hh, 2*ww
			elems += 2 * hh * ww * float64(b.out) // upsampled, then convolved
		}
	}
	elems += hh * ww * float64(2*c.BlockOutChannels[0]+c.OutChannels)
	return 4 * elems, nil
}

// ForwardMemory estimates, as a lower bound, the bytes a model of this
// config takes to run forward passes over batches of batch h×w samples:
// its weights and a quarter of the batch's activations (ActivationBytes).
func (c Config) ForwardMemory(batch, h, w int) (float64, error) {
	params, err := c.ParamCount()
	if err != nil {
		return 0, err
	}
	act, err := c.ActivationBytes(h, w)
	if err != nil {
		return 0, err
	}
	return 4*params + float64(batch)*act/4, nil
}

// SampleShape returns the per-sample shape (C, H, W) of what the model
// denoises: out_channels by the sample size, checked to fit the U-Net. A
// model with more input than output channels takes the rest as an image
// concatenated to its input (InstructPix2Pix's 8 input channels for 4
// latent ones).
func (c Config) SampleShape() ([]int, error) {
	h, w, err := c.SampleHW()
	if err != nil {
		return nil, err
	}
	if err := c.CheckSize(h, w); err != nil {
		return nil, err
	}
	if c.OutChannels < 1 || c.InChannels < c.OutChannels {
		return nil, fmt.Errorf("config: %d input and %d output channels: want at least as many inputs as outputs", c.InChannels, c.OutChannels)
	}
	return []int{c.OutChannels, h, w}, nil
}
