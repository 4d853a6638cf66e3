package diffusion

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/textenc"
	"github.com/clockwork-go/clockwork/unet"
)

// GuidanceDistillation configures multimodal guidance distillation (MoViE,
// arXiv 2412.06578, Sec. 3.2; after Meng et al., "On Distillation of
// Guided Diffusion Models", CVPR 2023): a student with the teacher
// editor's weights and an embedding of the two guidance scales learns to
// give, in one pass, the teacher's three-pass two-scale guided output
// ε(∅,∅) + s_T·[ε(I,T) − ε(I,∅)] + s_I·[ε(I,∅) − ε(∅,∅)] at scales drawn
// uniformly from the ranges, on the data's noised images. The text encoder
// is the teacher's and stays frozen.
type GuidanceDistillation struct {
	// Teacher is the three-pass editor's model directory; Fingerprint its
	// weights' (unet.Model.Fingerprint), checked when a run resumes.
	Teacher     string `json:"teacher"`
	Fingerprint string `json:"teacher_fingerprint"`
	// TextScale and ImageScale are the ranges [lo, hi] the scales s_T and
	// s_I are drawn from.
	TextScale  [2]float64 `json:"text_scale"`
	ImageScale [2]float64 `json:"image_scale"`
}

// DefaultTextScales and DefaultImageScales are MoViE's ranges of the
// scales a guidance-distilled student learns (text 2 to 14, image 1 to 3).
var (
	DefaultTextScales  = [2]float64{2, 14}
	DefaultImageScales = [2]float64{1, 3}
)

// Validate reports ranges that are not finite, reversed or negative.
func (g GuidanceDistillation) Validate() error {
	for _, r := range []struct {
		name string
		v    [2]float64
	}{{"text", g.TextScale}, {"image", g.ImageScale}} {
		lo, hi := r.v[0], r.v[1]
		if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo < 0 || hi < lo {
			return fmt.Errorf("guidance distillation: %s scale range [%g, %g]: want finite 0 ≤ lo ≤ hi", r.name, lo, hi)
		}
	}
	if g.Teacher == "" {
		return fmt.Errorf("guidance distillation: no teacher")
	}
	return nil
}

// GuidanceMultiplier scales the guidance scales before their sinusoidal
// embedding, so that the scales a student learns (0 to about 15) span the
// frequencies the timesteps' embedding spans over its 0 to 1000.
const GuidanceMultiplier = 100

// GuidanceFile is the file a guidance-distilled student's model directory
// holds beside config.json: the scale ranges it learned, its teacher, and
// how its class_labels vector is made (GuidanceVector).
const GuidanceFile = "guidance_distillation.json"

// GuidanceInfo is the content of GuidanceFile.
type GuidanceInfo struct {
	GuidanceDistillation
	Multiplier float64 `json:"multiplier"`
	Layout     string  `json:"class_labels"`
}

// guidanceLayout describes the class_labels vector for diffusers users.
const guidanceLayout = "concat(timestep_embedding(100*s_T), timestep_embedding(100*s_I)), each with the U-Net's flip_sin_to_cos and freq_shift at block_out_channels[0] dims"

// GuidanceVector returns the class_labels vector of a guidance-distilled
// student m for each row's scales: the sinusoidal embedding of
// GuidanceMultiplier·s_T, then of GuidanceMultiplier·s_I, each as the
// model embeds a timestep (block_out_channels[0] values), (N, 2·that).
func GuidanceVector(m *unet.Model, text, image []float64) (*tensor.Dense, error) {
	if len(text) != len(image) {
		return nil, fmt.Errorf("%d text scales and %d image scales", len(text), len(image))
	}
	c0 := m.Config.BlockOutChannels[0]
	if m.Config.ClassProjection() != 2*c0 {
		return nil, fmt.Errorf("the model is not a guidance-distilled student (its class_embed_type is not %q of width %d)", unet.ClassEmbedProjection, 2*c0)
	}
	n := len(text)
	st, si := make([]float64, n), make([]float64, n)
	for i := range n {
		st[i], si[i] = GuidanceMultiplier*text[i], GuidanceMultiplier*image[i]
	}
	a, b := m.TimeProj(st).Float32s(), m.TimeProj(si).Float32s()
	out := make([]float32, n*2*c0)
	for i := range n {
		copy(out[i*2*c0:], a[i*c0:(i+1)*c0])
		copy(out[i*2*c0+c0:], b[i*c0:(i+1)*c0])
	}
	return tensor.New(tensor.WithShape(n, 2*c0), tensor.WithBacking(out)), nil
}

// LoadGuidanceInfo reads a model directory's GuidanceFile; nil without one
// (a model that is not a guidance-distilled student).
func LoadGuidanceInfo(dir string) (*GuidanceInfo, error) {
	b, err := os.ReadFile(filepath.Join(unetDir(dir), GuidanceFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var g GuidanceInfo
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, GuidanceFile), err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, GuidanceFile), err)
	}
	if g.Multiplier != GuidanceMultiplier {
		return nil, fmt.Errorf("%s: multiplier %g, this version embeds scales times %d", filepath.Join(dir, GuidanceFile), g.Multiplier, GuidanceMultiplier)
	}
	return &g, nil
}

// unetDir resolves a pipeline root to its unet/ directory.
func unetDir(dir string) string { return unet.Dir(dir) }

// saveGuidanceInfo writes GuidanceFile into dir.
func saveGuidanceInfo(dir string, g GuidanceDistillation) error {
	return fsutil.WriteJSON(filepath.Join(dir, GuidanceFile), GuidanceInfo{GuidanceDistillation: g, Multiplier: GuidanceMultiplier, Layout: guidanceLayout})
}

// StudentFrom returns the student a guidance-distillation run starts from:
// the teacher editor of g.Teacher (not itself a student) with a projection
// class embedding of 2·block_out_channels[0] (unet.AddClassProjection, its
// last layer zero), and the teacher's text encoder, which must know every
// word of data's captions. It records the teacher's fingerprint in g.
func StudentFrom(g *GuidanceDistillation, data *datasets.Images, seed uint64) (*unet.Model, *textenc.Prompter, error) {
	if data.Inputs == nil {
		return nil, nil, fmt.Errorf("guidance distillation trains an editor: -data %s has no input images (use -data edits)", data.Name)
	}
	info, err := LoadGuidanceInfo(g.Teacher)
	if err != nil {
		return nil, nil, err
	}
	if info != nil {
		return nil, nil, fmt.Errorf("teacher %s is a guidance-distilled student (it has %s): the teacher is a three-pass editor", g.Teacher, GuidanceFile)
	}
	t, err := unet.Load(g.Teacher)
	if err != nil {
		return nil, nil, fmt.Errorf("teacher: %w", err)
	}
	if err := checkFor(t.Config, "teacher "+g.Teacher, data); err != nil {
		return nil, nil, err
	}
	text, err := LoadText(g.Teacher, t)
	if err != nil {
		return nil, nil, err
	}
	if text == nil {
		return nil, nil, fmt.Errorf("teacher %s is not text-conditioned: it is not an editor", g.Teacher)
	}
	for _, w := range captionWords(data) {
		if _, ok := text.Tokenizer.IDs[w]; !ok {
			return nil, nil, fmt.Errorf("the teacher's vocabulary (%s) lacks the word %q of -data %s", textenc.ModelDir(g.Teacher), w, data.Name)
		}
	}
	g.Fingerprint = t.Fingerprint()
	s, err := t.AddClassProjection(2*t.Config.BlockOutChannels[0], seed^0x6764)
	if err != nil {
		return nil, nil, err
	}
	return s, text, nil
}

// loadTeacher loads a guidance-distillation run's teacher, checking its
// fingerprint.
func loadTeacher(g *GuidanceDistillation) (*unet.Model, error) {
	t, err := unet.Load(g.Teacher)
	if err != nil {
		return nil, fmt.Errorf("guidance distillation's teacher: %w", err)
	}
	if g.Fingerprint != "" && t.Fingerprint() != g.Fingerprint {
		return nil, fmt.Errorf("guidance distillation's teacher %s has changed (weights fingerprint %s, the run started from %s)", g.Teacher, t.Fingerprint(), g.Fingerprint)
	}
	return t, nil
}

// guidedTarget returns the teacher's two-scale guided prediction for each
// row of a batch: x the noisy images, src the sources (both n·C·H·W), t
// the timesteps, text the instructions' embeddings (n, tokens, dim), null
// the empty text's (1, tokens, dim), and the rows' scales. The three
// branches run as one batch, as Guided runs them.
func guidedTarget(teacher *unet.Model, x, src []float32, shape []int, t []float64, text, null *tensor.Dense, st, si []float64) ([]float32, error) {
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	per := c * h * w
	in := make([]float32, 3*n*2*per)
	ts := make([]float64, 3*n)
	for b := range 3 {
		for i := range n {
			row := in[(b*n+i)*2*per:]
			copy(row[:per], x[i*per:(i+1)*per])
			if b < 2 {
				copy(row[per:2*per], src[i*per:(i+1)*per]) // the third branch drops the image: zeros
			}
			ts[b*n+i] = t[i]
		}
	}
	tok, dim := text.Shape()[1], text.Shape()[2]
	td := make([]float32, 3*n*tok*dim)
	copy(td, text.Float32s())
	for i := n; i < 3*n; i++ {
		copy(td[i*tok*dim:], null.Float32s())
	}
	out, err := teacher.Forward(tensor.New(tensor.WithShape(3*n, 2*c, h, w), tensor.WithBacking(in)), ts,
		unet.Cond{Text: tensor.New(tensor.WithShape(3*n, tok, dim), tensor.WithBacking(td))}, nil)
	if err != nil {
		return nil, fmt.Errorf("teacher: %w", err)
	}
	od := out.Float32s()
	res := make([]float32, n*per)
	for i := range n {
		a, b := float32(st[i]), float32(si[i])
		for k := range per {
			cond, noText, none := od[i*per+k], od[(n+i)*per+k], od[(2*n+i)*per+k]
			res[i*per+k] = none + a*(cond-noText) + b*(noText-none)
		}
	}
	return res, nil
}

// Scaled runs a guidance-distilled student at fixed guidance scales: it
// sets every row's class vector to GuidanceVector of (Text, Image) before
// its denoiser runs, so a student takes the same conditioning (text and
// image) as the three-pass editor it replaces.
type Scaled struct {
	D           Denoiser
	Model       *unet.Model // the student, whose class vector it fills
	Text, Image float64     // s_T and s_I
}

// withScales returns c with every row's class vector set.
func (s *Scaled) withScales(c Cond, n int) (Cond, error) {
	st, si := make([]float64, n), make([]float64, n)
	for i := range n {
		st[i], si[i] = s.Text, s.Image
	}
	v, err := GuidanceVector(s.Model, st, si)
	if err != nil {
		return c, err
	}
	c.ClassVector = v
	return c, nil
}

// Predict implements Denoiser.
func (s *Scaled) Predict(x *tensor.Dense, t float64, c Cond) (*tensor.Dense, error) {
	c, err := s.withScales(c, x.Shape()[0])
	if err != nil {
		return nil, err
	}
	return s.D.Predict(x, t, c)
}

// Unwrap implements Wrapper.
func (s *Scaled) Unwrap() Denoiser { return s.D }

// InnerRows implements RowMapper: the rows are the same, their
// conditioning gains the class vector.
func (s *Scaled) InnerRows(rows []Row, c Cond) ([]Row, Cond, error) {
	c, err := s.withScales(c, len(rows))
	return rows, c, err
}
