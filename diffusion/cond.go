package diffusion

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// Cond is the conditioning of a batch, row by row: what a denoiser is asked
// to follow besides the noisy input and the timestep. It is one value that
// every sampler, denoiser, wrapper and step hook carries, so that a method
// written for class labels also runs on text or an input image. Every field
// is optional; a field that is set has one entry per row.
type Cond struct {
	// Labels are class labels (a model's num_class_embeds; the null class
	// on the unconditional branch of guidance).
	Labels []int64
	// Text is a sequence of text embeddings per row, (N, tokens, dim): the
	// encoder_hidden_states of a cross-attention U-Net.
	Text *tensor.Dense
	// TextMask marks each row's valid tokens, N·tokens values of 1 (valid)
	// or 0 (padding); nil when every token is valid.
	TextMask []float32
	// Pooled is a pooled embedding of each row's text (N, dim): the text
	// encoder's output at the end-of-text token. The U-Net does not read
	// it; methods that condition a small network on the prompt do (the
	// text-aware Clockwork adaptor, after the paper's Tab. 5).
	Pooled *tensor.Dense
	// Image is concatenated to the noisy input along the channels,
	// (N, C, H, W): the input image of an editor (InstructPix2Pix,
	// Brooks et al., CVPR 2023).
	Image *tensor.Dense
	// ClassVector is the class_labels vector of a U-Net with a
	// "projection" class embedding, (N, dim): a guidance-distilled
	// editor's embedding of its guidance scales.
	ClassVector *tensor.Dense
}

// UNet returns what a U-Net's forward pass takes of c: the labels and the
// text with its mask (the image goes into its input, see ModelInput).
func (c Cond) UNet() unet.Cond {
	u := unet.Cond{Labels: c.Labels, Text: c.Text, TextMask: c.TextMask}
	if c.ClassVector != nil {
		u.ClassVector = c.ClassVector.Data().([]float32)
	}
	return u
}

// Tokens returns the number of text tokens per row, 0 without text.
func (c Cond) Tokens() int {
	if c.Text == nil || len(c.Text.Shape()) != 3 {
		return 0
	}
	return c.Text.Shape()[1]
}

// PromptCond returns the conditioning of prompts, one per row: their text
// embeddings (N, tokens, width) from the text encoder p, with no mask (every
// token attended to, as Stable Diffusion's pipelines run CLIP), and their
// pooled embeddings (N, width).
func PromptCond(p *textenc.Prompter, prompts []string) (Cond, error) {
	t, err := p.Embed(prompts)
	if err != nil {
		return Cond{}, err
	}
	pooled, err := p.Pooled(prompts)
	if err != nil {
		return Cond{}, err
	}
	return Cond{Text: t, Pooled: pooled}, nil
}

// IsZero reports whether c carries no conditioning.
func (c Cond) IsZero() bool {
	return c.Labels == nil && c.Text == nil && c.TextMask == nil && c.Pooled == nil && c.Image == nil && c.ClassVector == nil
}

// Rows returns the number of rows of the fields that are set, or 0 when none
// is (Check reports fields that disagree).
func (c Cond) Rows() int {
	switch {
	case c.Labels != nil:
		return len(c.Labels)
	case c.Text != nil:
		return c.Text.Shape()[0]
	case c.Pooled != nil:
		return c.Pooled.Shape()[0]
	case c.Image != nil:
		return c.Image.Shape()[0]
	case c.ClassVector != nil:
		return c.ClassVector.Shape()[0]
	}
	return 0
}

// Check reports a field that does not have n rows, a text embedding that
// is not (N, tokens, dim), a mask of the wrong length or with values other
// than 0 and 1, an image that is not (N, C, H, W), and NaN or infinite
// embeddings or images.
func (c Cond) Check(n int) error {
	if c.Labels != nil && len(c.Labels) != n {
		return fmt.Errorf("%d class labels for %d rows", len(c.Labels), n)
	}
	if c.Text != nil {
		s := c.Text.Shape()
		if len(s) != 3 || s[0] != n || s[1] < 1 || s[2] < 1 {
			return fmt.Errorf("text embeddings of shape %v for %d rows: want (%d, tokens, dim)", s, n, n)
		}
		if err := finite("text embeddings", c.Text); err != nil {
			return err
		}
		if c.TextMask != nil {
			if len(c.TextMask) != s[0]*s[1] {
				return fmt.Errorf("text mask of %d values for %d rows of %d tokens", len(c.TextMask), s[0], s[1])
			}
			for i, v := range c.TextMask {
				if v != 0 && v != 1 {
					return fmt.Errorf("text mask value %g at %d: want 0 (padding) or 1", v, i)
				}
			}
		}
	} else if c.TextMask != nil {
		return fmt.Errorf("a text mask without text embeddings")
	}
	if c.Pooled != nil {
		if s := c.Pooled.Shape(); len(s) != 2 || s[0] != n || s[1] < 1 {
			return fmt.Errorf("pooled text embeddings of shape %v for %d rows: want (%d, dim)", s, n, n)
		}
		if err := finite("pooled text embeddings", c.Pooled); err != nil {
			return err
		}
	}
	if c.Image != nil {
		s := c.Image.Shape()
		if len(s) != 4 || s[0] != n {
			return fmt.Errorf("conditioning image of shape %v for %d rows: want (%d, C, H, W)", s, n, n)
		}
		if err := finite("conditioning image", c.Image); err != nil {
			return err
		}
	}
	if c.ClassVector != nil {
		if s := c.ClassVector.Shape(); len(s) != 2 || s[0] != n || s[1] < 1 {
			return fmt.Errorf("class vectors of shape %v for %d rows: want (%d, dim)", s, n, n)
		}
		if err := finite("class vectors", c.ClassVector); err != nil {
			return err
		}
	}
	return nil
}

func finite(what string, t *tensor.Dense) error {
	d, ok := t.Data().([]float32)
	if !ok {
		return fmt.Errorf("%s: want float32, have %v", what, t.Dtype())
	}
	for i, v := range d {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: %v at element %d", what, v, i)
		}
	}
	return nil
}

// Slice returns rows i to j−1 of c. Its tensors share c's storage.
func (c Cond) Slice(i, j int) Cond {
	var out Cond
	if c.Labels != nil {
		out.Labels = c.Labels[i:j]
	}
	if c.Text != nil {
		s := c.Text.Shape()
		per := s[1] * s[2]
		out.Text = tensor.New(tensor.WithShape(j-i, s[1], s[2]), tensor.WithBacking(c.Text.Data().([]float32)[i*per:j*per]))
		if c.TextMask != nil {
			out.TextMask = c.TextMask[i*s[1] : j*s[1]]
		}
	}
	if c.Pooled != nil {
		d := c.Pooled.Shape()[1]
		out.Pooled = tensor.New(tensor.WithShape(j-i, d), tensor.WithBacking(c.Pooled.Data().([]float32)[i*d:j*d]))
	}
	if c.Image != nil {
		s := c.Image.Shape()
		per := s[1] * s[2] * s[3]
		out.Image = tensor.New(tensor.WithShape(j-i, s[1], s[2], s[3]), tensor.WithBacking(c.Image.Data().([]float32)[i*per:j*per]))
	}
	if c.ClassVector != nil {
		d := c.ClassVector.Shape()[1]
		out.ClassVector = tensor.New(tensor.WithShape(j-i, d), tensor.WithBacking(c.ClassVector.Data().([]float32)[i*d:j*d]))
	}
	return out
}

// Take returns the rows idx of c, in that order, as a copy.
func (c Cond) Take(idx []int) Cond {
	var out Cond
	n := len(idx)
	if c.Labels != nil {
		out.Labels = make([]int64, n)
		for j, i := range idx {
			out.Labels[j] = c.Labels[i]
		}
	}
	gather := func(t *tensor.Dense) *tensor.Dense {
		s := t.Shape()
		per := s.TotalSize() / s[0]
		src := t.Data().([]float32)
		d := make([]float32, n*per)
		for j, i := range idx {
			copy(d[j*per:(j+1)*per], src[i*per:(i+1)*per])
		}
		return tensor.New(tensor.WithShape(append([]int{n}, s[1:]...)...), tensor.WithBacking(d))
	}
	if c.Text != nil {
		out.Text = gather(c.Text)
		if c.TextMask != nil {
			L := c.Text.Shape()[1]
			out.TextMask = make([]float32, n*L)
			for j, i := range idx {
				copy(out.TextMask[j*L:(j+1)*L], c.TextMask[i*L:(i+1)*L])
			}
		}
	}
	if c.Pooled != nil {
		out.Pooled = gather(c.Pooled)
	}
	if c.Image != nil {
		out.Image = gather(c.Image)
	}
	if c.ClassVector != nil {
		out.ClassVector = gather(c.ClassVector)
	}
	return out
}

// Concat stacks the rows of several conditionings (the branches of a
// guided batch, say). They must set the same fields, with the same tokens,
// embedding width and image shape.
func Concat(cs ...Cond) (Cond, error) {
	if len(cs) == 0 {
		return Cond{}, nil
	}
	first := cs[0]
	var out Cond
	n := 0
	for i, c := range cs {
		if (c.Labels == nil) != (first.Labels == nil) || (c.Text == nil) != (first.Text == nil) ||
			(c.TextMask == nil) != (first.TextMask == nil) || (c.Pooled == nil) != (first.Pooled == nil) || (c.Image == nil) != (first.Image == nil) || (c.ClassVector == nil) != (first.ClassVector == nil) {
			return Cond{}, fmt.Errorf("conditioning %d sets other fields than conditioning 0", i)
		}
		if c.Text != nil && !sameTail(c.Text.Shape(), first.Text.Shape()) {
			return Cond{}, fmt.Errorf("text embeddings %v and %v differ in tokens or width", c.Text.Shape(), first.Text.Shape())
		}
		if c.Pooled != nil && !sameTail(c.Pooled.Shape(), first.Pooled.Shape()) {
			return Cond{}, fmt.Errorf("pooled text embeddings %v and %v differ in width", c.Pooled.Shape(), first.Pooled.Shape())
		}
		if c.Image != nil && !sameTail(c.Image.Shape(), first.Image.Shape()) {
			return Cond{}, fmt.Errorf("conditioning images %v and %v differ in shape", c.Image.Shape(), first.Image.Shape())
		}
		if c.ClassVector != nil && !sameTail(c.ClassVector.Shape(), first.ClassVector.Shape()) {
			return Cond{}, fmt.Errorf("class vectors %v and %v differ in width", c.ClassVector.Shape(), first.ClassVector.Shape())
		}
		out.Labels = append(out.Labels, c.Labels...)
		out.TextMask = append(out.TextMask, c.TextMask...)
		n += c.Rows()
	}
	stack := func(get func(Cond) *tensor.Dense) *tensor.Dense {
		s := get(first).Shape()
		var d []float32
		for _, c := range cs {
			d = append(d, get(c).Data().([]float32)...)
		}
		return tensor.New(tensor.WithShape(append([]int{n}, s[1:]...)...), tensor.WithBacking(d))
	}
	if first.Text != nil {
		out.Text = stack(func(c Cond) *tensor.Dense { return c.Text })
	}
	if first.Pooled != nil {
		out.Pooled = stack(func(c Cond) *tensor.Dense { return c.Pooled })
	}
	if first.Image != nil {
		out.Image = stack(func(c Cond) *tensor.Dense { return c.Image })
	}
	if first.ClassVector != nil {
		out.ClassVector = stack(func(c Cond) *tensor.Dense { return c.ClassVector })
	}
	return out, nil
}

func sameTail(a, b tensor.Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 1; i < len(a); i++ {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Labels returns the conditioning of class labels alone.
func Labels(l []int64) Cond { return Cond{Labels: l} }
