package unet

import "fmt"

// WidenInput returns a copy of m that takes in input channels instead of
// m.Config.InChannels (in must be more): every weight is m's, and conv_in's
// kernels for the added channels are zero, so the new model computes what m
// computes whatever the added channels hold. This is how InstructPix2Pix
// (Brooks et al., CVPR 2023, Sec. 3.3) starts an editor from a
// text-to-image model, the source image concatenated to the noisy input,
// and how diffusers' training script does it.
func (m *Model) WidenInput(in int) (*Model, error) {
	old := m.Config.InChannels
	if in <= old {
		return nil, fmt.Errorf("unet: widen the input from %d to %d channels: want more", old, in)
	}
	cfg := m.Config
	cfg.InChannels = in
	w, err := New(cfg, 0)
	if err != nil {
		return nil, err
	}
	for _, name := range w.Params.Names() {
		dst, src := w.Params.Data(name), m.Params.Data(name)
		if name != "conv_in.weight" {
			if len(dst) != len(src) {
				return nil, fmt.Errorf("unet: widen: parameter %s has %d values, want %d", name, len(src), len(dst))
			}
			copy(dst, src)
			continue
		}
		// (out, in, k, k): each output channel's kernels for the old
		// inputs, then zeros.
		s := w.Params.Get(name).Shape()
		k := s[2] * s[3]
		clear(dst)
		for o := 0; o < s[0]; o++ {
			copy(dst[(o*in)*k:(o*in+old)*k], src[(o*old)*k:(o+1)*old*k])
		}
	}
	return w, nil
}
