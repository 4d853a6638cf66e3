package videos

import (
	"fmt"
	"math"
	"slices"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
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

// Result is an edited video.
type Result struct {
	Frames  []float32 // T·C·H·W, in [−1, 1]
	Anchors []int     // nil for frame-by-frame editing
	// CacheBytes is the memory the anchors' keys and values took.
	CacheBytes int64
	// FLOPs are the model's, counted as it ran (both phases).
	FLOPs int64
}

// AnchoredResult is an edit with anchor attention (Result).
type AnchoredResult = Result

// Editing says how a video is edited: by an editor (three-pass or
// guidance-distilled) under Options, frame by frame (no Anchors; shared
// noise with Options.SharedNoise) or with FAIRY's anchor attention, with
// Clockwork on the U-Net when Adaptor is set ("identity" or an adaptor's
// directory; Clock its clock, "" for the adaptor's own). On Clockwork's
// adaptor steps the anchors' attention inside the replaced core is
// skipped (Clockwork, App. D.1). Batch is the frames per batch of
// frame-by-frame editing and of phase 2.
type Editing struct {
	Editor         *edits.Editor
	Options        edits.Options
	Anchors        []int
	Adaptor, Clock string
	Batch          int
}

// base returns the denoiser of model: the model, or Clockwork on it.
func (ed Editing) base(model *unet.Model) (diffusion.Denoiser, error) {
	if ed.Adaptor == "" {
		return &diffusion.ModelDenoiser{Model: model}, nil
	}
	o := ed.Options
	cw, _, err := distill.OpenFrom(model, ed.Adaptor, 1, o.Sampler, o.Steps, o.Strength, ed.Clock, false)
	return cw, err
}

// EditAnchored edits t frames (t·C·H·W values in [−1, 1]) by instruction
// with FAIRY's anchor-based cross-frame attention (Wu et al., CVPR 2024):
// Editing.Run with the editor e, o, the anchors and batch.
func EditAnchored(e *edits.Editor, frames []float32, t int, instruction string, o edits.Options, anchors []int, batch int, only []int) (*Result, error) {
	if len(anchors) == 0 {
		return nil, fmt.Errorf("no anchors")
	}
	return Editing{Editor: e, Options: o, Anchors: anchors, Batch: batch}.Run(frames, t, instruction, only)
}

// Run edits t frames (t·C·H·W values in [−1, 1]) by instruction. Frame f
// draws its noise from stream f of the seed (every frame from stream 0
// with Options.SharedNoise), frame by frame or with anchors alike. With
// anchors, the anchor frames are edited first, as one batch whose
// self-attention spans all of them, their keys and values cached per
// layer, model evaluation and guidance branch (nn.KVStore); then the other
// frames, in batches of Batch, each attending to its own keys and values
// and the anchors'; a frame's noise stream is fixed by its index (or is
// stream 0), so a frame of the second phase is the same whatever batch it
// is edited in. only, when not nil, edits only those frames of the second
// phase (a shard; the anchors are always edited): the result holds zeros
// for the others.
func (ed Editing) Run(frames []float32, t int, instruction string, only []int) (*Result, error) {
	e, o, anchors, batch := ed.Editor, ed.Options, ed.Anchors, ed.Batch
	if err := o.Check(); err != nil {
		return nil, err
	}
	if o.Compose > 1 || o.Chain {
		return nil, fmt.Errorf("video editing runs the editor as it is: composed or chained clauses (Options.Compose, Options.Chain) are for edits.Editor.Edit")
	}
	if err := e.CheckImages("the frames", frames, t); err != nil {
		return nil, err
	}
	if len(anchors) > t {
		return nil, fmt.Errorf("%d anchors for %d frames", len(anchors), t)
	}
	if batch <= 0 {
		return nil, fmt.Errorf("a batch of %d frames", batch)
	}
	for i, a := range anchors {
		if a < 0 || a >= t {
			return nil, fmt.Errorf("anchor frame %d of a video of %d frames", a, t)
		}
		if slices.Contains(anchors[:i], a) {
			return nil, fmt.Errorf("anchor frame %d given twice", a)
		}
	}
	per := e.Shape[0] * e.Shape[1] * e.Shape[2]
	cond, err := diffusion.PromptCond(e.Text, diffusion.Prompts([]string{instruction}, t))
	if err != nil {
		return nil, err
	}
	cond.Pooled = nil
	cond.Image = edits.ImagesTensor(frames, t, e.Shape)
	res := &Result{Frames: make([]float32, t*per), Anchors: anchors}
	sample := func(d diffusion.Denoiser, rows []int, size int, hook func(diffusion.StepInfo) error) error {
		indices := rows
		if o.SharedNoise {
			indices = make([]int, len(rows))
		}
		f0, _ := diffusion.CountedFLOPs(d)
		src := make([]float32, 0, len(rows)*per)
		for _, f := range rows {
			src = append(src, frames[f*per:(f+1)*per]...)
		}
		so := o.Sampling(cond.Take(rows), src, indices)
		so.Hook = hook
		x, err := diffusion.SampleMany(d, e.Noise, e.Shape, len(rows), size, so, nil)
		if err != nil {
			return err
		}
		f1, _ := diffusion.CountedFLOPs(d)
		res.FLOPs += f1 - f0
		xs := diffusion.ClipImages(x.Float32s())
		for i, f := range rows {
			copy(res.Frames[f*per:(f+1)*per], xs[i*per:(i+1)*per])
		}
		return nil
	}
	if anchors == nil {
		b, err := ed.base(e.Model)
		if err != nil {
			return nil, err
		}
		d, err := e.Wrap(b, o)
		if err != nil {
			return nil, err
		}
		rows := make([]int, 0, t)
		for f := range t {
			if only == nil || slices.Contains(only, f) {
				rows = append(rows, f)
			}
		}
		return res, sample(d, rows, batch, nil)
	}
	branches := 1
	if e.Student == nil {
		branches = diffusion.Guidance{Scale: o.TextScale, ImageScale: o.ImageScale}.Branches()
	}
	store, err := nn.NewKVStore(len(anchors), branches)
	if err != nil {
		return nil, err
	}
	hook := func(info diffusion.StepInfo) error { store.Step = info.Index; return nil }
	phase := func(rows []int, size int) error {
		b, err := ed.base(e.Model.WithAnchors(store))
		if err != nil {
			return err
		}
		d, err := e.Wrap(b, o)
		if err != nil {
			return err
		}
		return sample(d, rows, size, hook)
	}
	if err := phase(anchors, len(anchors)); err != nil {
		return nil, fmt.Errorf("the anchors: %w", err)
	}
	var rest []int
	for f := range t {
		if !slices.Contains(anchors, f) && (only == nil || slices.Contains(only, f)) {
			rest = append(rest, f)
		}
	}
	if len(rest) > 0 {
		store.Mode = nn.AnchorAttend
		if err := phase(rest, batch); err != nil {
			return nil, fmt.Errorf("the frames: %w", err)
		}
	}
	res.CacheBytes = store.Bytes()
	return res, nil
}
