package diffusion

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/textenc"
)

// Branch says which branch of guidance a row of a batch belongs to.
type Branch uint8

// The branches of guidance, in the order Guided stacks them.
const (
	// BranchCond is the row's own conditioning.
	BranchCond Branch = iota
	// BranchNull drops the prompt (the class label, the text): the
	// unconditional branch of classifier-free guidance, and ε(I, ∅) of
	// two-scale guidance (an input image is kept).
	BranchNull
	// BranchNullImage drops the prompt and the input image: ε(∅, ∅) of
	// two-scale guidance. Branches after it are the second, third, …
	// prompts of composed guidance (Guidance.Compose).
	BranchNullImage
)

// String names the branch.
func (b Branch) String() string {
	switch b {
	case BranchCond:
		return "cond"
	case BranchNull:
		return "null"
	case BranchNullImage:
		return "null-image"
	}
	if b > BranchNullImage {
		return fmt.Sprintf("cond-%d", int(b)-int(BranchNullImage)+1)
	}
	return fmt.Sprintf("branch(%d)", uint8(b))
}

// Guidance configures classifier-free guidance (Ho & Salimans,
// "Classifier-Free Diffusion Guidance", 2022) with one scale, or with two as
// InstructPix2Pix does (Brooks et al., "InstructPix2Pix: Learning to Follow
// Image Editing Instructions", CVPR 2023, Eq. 3).
type Guidance struct {
	// Scale is the prompt's scale (class or text), s_T: 1 is no guidance.
	// With one scale the output is ε(∅) + Scale·(ε(c) − ε(∅)), where ∅
	// drops the prompt and keeps an input image.
	Scale float64
	// ImageScale is InstructPix2Pix's image scale s_I; 0 for one-scale
	// guidance. With it three branches run in one batch, ε(I,T), ε(I,∅)
	// and ε(∅,∅), and the output is
	// ε(∅,∅) + s_T·[ε(I,T) − ε(I,∅)] + s_I·[ε(I,∅) − ε(∅,∅)].
	ImageScale float64
	// Compose, above 1, composes that many prompts per row as Liu et
	// al.'s composable diffusion does ("Compositional Visual Generation
	// with Composable Diffusion Models", ECCV 2022, Eq. 10): the rows'
	// text holds the prompts' embeddings one after the other along the
	// tokens (a textenc.Prompter with Clauses = Compose makes them from
	// "A and B"), each prompt gets its own conditional branch, and each
	// one's difference from the dropped prompt is added:
	// ε(∅,∅) + s_T·Σ_i[ε(I,T_i) − ε(I,∅)] + s_I·[ε(I,∅) − ε(∅,∅)], or
	// ε(∅) + s·Σ_i[ε(c_i) − ε(∅)] with one scale. An empty prompt in a
	// row adds nothing, so a row of one prompt is guided as without
	// Compose. The extra branches follow the null ones in the batch.
	Compose int
	// Null is the conditioning of a dropped prompt, one row that every
	// row's null branch takes: Labels the null class, Text the embedding of
	// the empty prompt (1, tokens, dim), TextMask its mask. A dropped image
	// is zeros.
	Null Cond
}

// Validate reports scales that are not finite numbers, a negative image
// scale, and a null conditioning of more than one row.
func (g Guidance) Validate() error {
	for _, s := range []float64{g.Scale, g.ImageScale} {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("guidance scale %g is not a finite number", s)
		}
	}
	if g.ImageScale < 0 {
		return fmt.Errorf("image guidance scale %g is negative", g.ImageScale)
	}
	if g.Compose < 0 || g.Compose > textenc.MaxClauses {
		return fmt.Errorf("guidance composes %d prompts: want 0 to %d", g.Compose, textenc.MaxClauses)
	}
	if r := g.Null.Rows(); r > 1 || (r == 0 && !g.Null.IsZero()) {
		return fmt.Errorf("the null conditioning of guidance has %d rows: want one, shared by every row", r)
	}
	if g.Null.Image != nil {
		return fmt.Errorf("the null conditioning of guidance sets an image: a dropped image is zeros")
	}
	return g.Null.Check(g.Null.Rows())
}

// Active reports whether the guidance runs more than one branch.
func (g Guidance) Active() bool { return g.Scale != 1 || g.ImageScale != 0 || g.Compose > 1 }

// Branches returns the number of branches a guided batch stacks: 1 without
// guidance, 2 with one scale, 3 with two, and Compose − 1 more when it
// composes prompts.
func (g Guidance) Branches() int {
	extra := max(g.Compose, 1) - 1
	switch {
	case g.ImageScale != 0:
		return 3 + extra
	case g.Scale != 1 || extra > 0:
		return 2 + extra
	}
	return 1
}

// base returns the branches of the guidance without its composed extras.
func (g Guidance) base() int { return g.Branches() - (max(g.Compose, 1) - 1) }

// NullClass returns the null class of a class-conditional model with
// num_class_embeds k (the last class, k−1, by the toolkit's convention; the
// trainer drops labels to it), or false for an unconditional one.
func NullClass(k int) (int64, bool) {
	if k <= 1 {
		return 0, false
	}
	return int64(k - 1), true
}

// ClassGuidance returns one-scale classifier-free guidance of a
// class-conditional model with num_class_embeds k.
func ClassGuidance(k int, scale float64) (Guidance, error) {
	g := Guidance{Scale: scale}
	if scale == 1 {
		return g, nil
	}
	null, ok := NullClass(k)
	if !ok {
		return g, fmt.Errorf("guidance needs a class-conditional model with a null class")
	}
	g.Null = Cond{Labels: []int64{null}}
	return g, g.Validate()
}

// TextGuidance returns one-scale classifier-free guidance of a
// text-conditioned model whose text encoder is p: the empty prompt is the
// dropped one, as the model was trained.
func TextGuidance(p *textenc.Prompter, scale float64) (Guidance, error) {
	g := Guidance{Scale: scale}
	if scale == 1 {
		return g, nil
	}
	null, err := PromptCond(p, []string{""})
	if err != nil {
		return g, err
	}
	g.Null = null
	return g, g.Validate()
}

// Guide wraps d in guidance; without guidance (one branch) it returns d
// itself.
func Guide(d Denoiser, g Guidance) (Denoiser, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if !g.Active() {
		return d, nil
	}
	return &Guided{D: d, G: g}, nil
}

// Guided runs its denoiser on every branch of guidance in one batch of
// Branches times the rows (conditional rows first, then each null branch,
// diffusers' order for InstructPix2Pix's batch, then the further prompts of
// composed guidance) and combines the outputs. Build it with Guide, which
// validates the guidance.
type Guided struct {
	D Denoiser
	G Guidance
}

// Predict implements Denoiser.
func (g *Guided) Predict(x *tensor.Dense, t float64, c Cond) (*tensor.Dense, error) {
	if !g.G.Active() {
		return g.D.Predict(x, t, c)
	}
	s := x.Shape()
	n, per := s[0], s.TotalSize()/s[0]
	inner, err := g.branches(n, c)
	if err != nil {
		return nil, err
	}
	k := g.G.Branches()
	all := tensor.New(tensor.WithShape(append([]int{k * n}, s[1:]...)...), tensor.Of(tensor.Float32))
	ad := all.Data().([]float32)
	for b := 0; b < k; b++ {
		copy(ad[b*n*per:], x.Data().([]float32))
	}
	out, err := g.D.Predict(all, t, inner)
	if err != nil {
		return nil, err
	}
	od := out.Data().([]float32)
	if len(od) != k*n*per {
		return nil, fmt.Errorf("guidance: the denoiser returned %v for a batch of %v", out.Shape(), all.Shape())
	}
	res := tensor.New(tensor.WithShape(s.Clone()...), tensor.Of(tensor.Float32))
	rd := res.Data().([]float32)
	st := float32(g.G.Scale)
	base := g.G.base()
	if base == 2 {
		for i := range rd {
			c, u := od[i], od[n*per+i]
			rd[i] = u + st*(c-u)
		}
	} else {
		si := float32(g.G.ImageScale)
		for i := range rd {
			c, ni, nn := od[i], od[n*per+i], od[2*n*per+i]
			rd[i] = nn + st*(c-ni) + si*(ni-nn)
		}
	}
	// Composed prompts: each adds its own difference from ε(I,∅).
	for b := base; b < k; b++ {
		cb, nb := od[b*n*per:(b+1)*n*per], od[n*per:2*n*per]
		for i := range rd {
			rd[i] += st * (cb[i] - nb[i])
		}
	}
	return res, nil
}

// branches returns the conditioning of the guided batch for n rows of c.
func (g *Guided) branches(n int, c Cond) (Cond, error) {
	if err := c.Check(n); err != nil {
		return Cond{}, err
	}
	if c.Labels == nil && c.Text == nil {
		return Cond{}, fmt.Errorf("guidance needs a prompt to drop (class labels or text); the rows have none")
	}
	null := g.G.Null
	parts, err := g.prompts(c)
	if err != nil {
		return Cond{}, err
	}
	c = parts[0]
	var drop Cond // the prompt dropped, the image kept
	if c.Labels != nil {
		if null.Labels == nil {
			return Cond{}, fmt.Errorf("guidance of class labels needs the null class (Guidance.Null.Labels)")
		}
		drop.Labels = make([]int64, n)
		for i := range drop.Labels {
			drop.Labels[i] = null.Labels[0]
		}
	}
	if c.Text != nil {
		if null.Text == nil {
			return Cond{}, fmt.Errorf("guidance of text needs the empty prompt's embedding (Guidance.Null.Text)")
		}
		ts, ns := c.Text.Shape(), null.Text.Shape()
		if ts[1] != ns[1] || ts[2] != ns[2] {
			return Cond{}, fmt.Errorf("the empty prompt's embedding %v does not match the rows' %v", ns, ts)
		}
		per := ts[1] * ts[2]
		d := make([]float32, n*per)
		for i := 0; i < n; i++ {
			copy(d[i*per:], null.Text.Data().([]float32))
		}
		drop.Text = tensor.New(tensor.WithShape(n, ts[1], ts[2]), tensor.WithBacking(d))
		if c.TextMask != nil {
			drop.TextMask = make([]float32, n*ts[1])
			for i := 0; i < n; i++ {
				if null.TextMask != nil {
					copy(drop.TextMask[i*ts[1]:], null.TextMask)
				} else {
					for j := 0; j < ts[1]; j++ {
						drop.TextMask[i*ts[1]+j] = 1
					}
				}
			}
		}
	}
	if c.Pooled != nil {
		if null.Pooled == nil || null.Pooled.Shape()[1] != c.Pooled.Shape()[1] {
			return Cond{}, fmt.Errorf("guidance of pooled text needs the empty prompt's pooled embedding of width %d (Guidance.Null.Pooled)", c.Pooled.Shape()[1])
		}
		d := c.Pooled.Shape()[1]
		v := make([]float32, n*d)
		for i := 0; i < n; i++ {
			copy(v[i*d:], null.Pooled.Data().([]float32))
		}
		drop.Pooled = tensor.New(tensor.WithShape(n, d), tensor.WithBacking(v))
	}
	drop.Image = c.Image
	drop.ClassVector = c.ClassVector // not a prompt: every branch keeps it
	if g.G.base() == 2 {
		return Concat(append([]Cond{c, drop}, parts[1:]...)...)
	}
	if c.Image == nil {
		return Cond{}, fmt.Errorf("two-scale guidance needs an input image (Cond.Image)")
	}
	none := drop
	none.Image = tensor.New(tensor.WithShape(c.Image.Shape().Clone()...), tensor.Of(tensor.Float32))
	return Concat(append([]Cond{c, drop, none}, parts[1:]...)...)
}

// prompts returns the rows' conditioning once per composed prompt (c
// itself without Compose): prompt i's tokens of the rows' text, every
// other field as c's.
func (g *Guided) prompts(c Cond) ([]Cond, error) {
	k := max(g.G.Compose, 1)
	if k == 1 {
		return []Cond{c}, nil
	}
	if c.Text == nil || c.TextMask != nil {
		return nil, fmt.Errorf("guidance composing %d prompts needs their embeddings one after the other in the rows' text, without a mask", k)
	}
	ts := c.Text.Shape()
	if ts[1]%k != 0 || g.G.Null.Text == nil || g.G.Null.Text.Shape()[1] != ts[1]/k {
		return nil, fmt.Errorf("guidance composing %d prompts: the rows' text of %d tokens is not %d prompts of the empty prompt's tokens", k, ts[1], k)
	}
	n, l, d := ts[0], ts[1]/k, ts[2]
	all := c.Text.Float32s()
	out := make([]Cond, k)
	for p := range out {
		v := make([]float32, n*l*d)
		for i := 0; i < n; i++ {
			copy(v[i*l*d:(i+1)*l*d], all[(i*k+p)*l*d:(i*k+p+1)*l*d])
		}
		out[p] = c
		out[p].Text = tensor.New(tensor.WithShape(n, l, d), tensor.WithBacking(v))
	}
	return out, nil
}

// Unwrap implements Wrapper.
func (g *Guided) Unwrap() Denoiser { return g.D }

// InnerRows implements RowMapper: under guidance the wrapped denoiser sees
// the conditional rows, then the same samples on each null branch and on
// each further composed prompt (Branch values after BranchNullImage, even
// with one scale).
func (g *Guided) InnerRows(rows []Row, c Cond) ([]Row, Cond, error) {
	if !g.G.Active() {
		return rows, c, nil
	}
	inner, err := g.branches(len(rows), c)
	if err != nil {
		return nil, Cond{}, err
	}
	k := g.G.Branches()
	out := make([]Row, 0, k*len(rows))
	out = append(out, rows...)
	base := g.G.base()
	for b := 1; b < k; b++ {
		br := Branch(b)
		if b >= base { // a composed prompt after the first
			br = BranchNullImage + Branch(1+b-base)
		}
		for _, r := range rows {
			out = append(out, Row{Sample: r.Sample, Branch: br})
		}
	}
	return out, inner, nil
}
