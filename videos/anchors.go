package videos

import (
	"fmt"
	"math"
	"slices"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/nn"
)

// The ways of choosing anchor frames.
const (
	// AnchorsUniform spreads k anchors evenly over the video, first and
	// last frame included (FAIRY's choice); one anchor is the middle frame.
	AnchorsUniform = "uniform"
	// AnchorsMiddle takes the k frames nearest the middle (MoViE's one
	// middle anchor when k is 1).
	AnchorsMiddle = "middle"
)

// ChooseAnchors returns k anchor frames of a video of t frames, in order.
func ChooseAnchors(t, k int, choice string) ([]int, error) {
	if k < 1 || k > t {
		return nil, fmt.Errorf("%d anchors for a video of %d frames: want 1 to %d", k, t, t)
	}
	var out []int
	switch choice {
	case AnchorsUniform:
		if k == 1 {
			return []int{(t - 1) / 2}, nil
		}
		for i := range k {
			f := int(math.Round(float64(i) * float64(t-1) / float64(k-1)))
			if len(out) == 0 || out[len(out)-1] != f {
				out = append(out, f)
			}
		}
	case AnchorsMiddle:
		lo := (t - k) / 2
		for i := range k {
			out = append(out, lo+i)
		}
	default:
		return nil, fmt.Errorf("anchor choice %q: want %s or %s", choice, AnchorsUniform, AnchorsMiddle)
	}
	return out, nil
}

// AnchoredResult is an edit with anchor attention.
type AnchoredResult struct {
	Frames  []float32 // T·C·H·W, in [−1, 1]
	Anchors []int
	// CacheBytes is the memory the anchors' keys and values took.
	CacheBytes int64
}

// EditAnchored edits t frames (t·C·H·W values in [−1, 1]) by instruction
// with FAIRY's anchor-based cross-frame attention (Wu et al., CVPR 2024):
// the anchor frames are edited first, as one batch whose self-attention
// spans all of them, their keys and values cached per layer, model
// evaluation and guidance branch (nn.KVStore); then the other frames,
// in batches of batch, each attending to its own keys and values and the
// anchors'. Frame f draws its noise from stream f of o.Seed in both
// phases, so a frame of the second phase is the same whatever batch it is
// edited in. only, when not nil, edits only those frames of the second
// phase (a shard; the anchors are always edited): the result holds zeros
// for the others.
func EditAnchored(e *edits.Editor, frames []float32, t int, instruction string, o edits.Options, anchors []int, batch int, only []int) (*AnchoredResult, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if err := e.CheckImages("the frames", frames, t); err != nil {
		return nil, err
	}
	if len(anchors) == 0 || len(anchors) > t {
		return nil, fmt.Errorf("%d anchors for %d frames", len(anchors), t)
	}
	if batch <= 0 {
		return nil, fmt.Errorf("a batch of %d frames", batch)
	}
	for _, a := range anchors {
		if a < 0 || a >= t {
			return nil, fmt.Errorf("anchor frame %d of a video of %d frames", a, t)
		}
	}
	per := e.Shape[0] * e.Shape[1] * e.Shape[2]
	cond, err := diffusion.PromptCond(e.Text, diffusion.Prompts([]string{instruction}, t))
	if err != nil {
		return nil, err
	}
	cond.Pooled = nil
	all := edits.ImagesTensor(frames, t, e.Shape)
	cond.Image = all
	branches := 1
	if e.Student == nil {
		branches = diffusion.Guidance{Scale: o.TextScale, ImageScale: o.ImageScale}.Branches()
	}
	store, err := nn.NewKVStore(len(anchors), branches)
	if err != nil {
		return nil, err
	}
	run := func(rows []int) ([]float32, error) {
		d, err := e.Wrap(&diffusion.ModelDenoiser{Model: e.Model.WithAnchors(store)}, o)
		if err != nil {
			return nil, err
		}
		so := diffusion.Options{Sampler: o.Sampler, Steps: o.Steps, Seed: o.Seed, Indices: rows, Cond: cond.Take(rows),
			Hook: func(info diffusion.StepInfo) error { store.Step = info.Index; return nil }}
		size := len(rows)
		if store.Mode == nn.AnchorAttend {
			size = batch
		}
		x, err := diffusion.SampleMany(d, e.Noise, e.Shape, len(rows), size, so, nil)
		if err != nil {
			return nil, err
		}
		return diffusion.ClipImages(x.Float32s()), nil
	}
	out := make([]float32, t*per)
	a, err := run(anchors)
	if err != nil {
		return nil, fmt.Errorf("the anchors: %w", err)
	}
	for i, f := range anchors {
		copy(out[f*per:(f+1)*per], a[i*per:(i+1)*per])
	}
	var rest []int
	for f := range t {
		if !slices.Contains(anchors, f) && (only == nil || slices.Contains(only, f)) {
			rest = append(rest, f)
		}
	}
	if len(rest) > 0 {
		store.Mode = nn.AnchorAttend
		r, err := run(rest)
		if err != nil {
			return nil, fmt.Errorf("the frames: %w", err)
		}
		for i, f := range rest {
			copy(out[f*per:(f+1)*per], r[i*per:(i+1)*per])
		}
	}
	return &AnchoredResult{Frames: out, Anchors: anchors, CacheBytes: store.Bytes()}, nil
}
