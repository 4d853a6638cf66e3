package metrics

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io"
	"math"
	"os"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/train"
)

// Classifier is a small convolutional MNIST classifier on 32×32 images in
// [−1, 1] (the diffusion models' space): four 3×3 convolutions with SiLU
// (the last three of stride 2), global average pooling to a FeatureDim-wide
// feature, and a linear layer to the ten digits. Its penultimate features
// play the role Inception features play in FID and KID.
type Classifier struct {
	Params  *nn.Params
	classes int
	infer   nn.Funcs // features and logits, compiled per batch size
}

// FeatureDim is the width of the classifier's penultimate features.
const FeatureDim = 128

var clfLayers = []struct {
	name          string
	in, out, strd int
}{{"conv1", 1, 32, 1}, {"conv2", 32, 64, 2}, {"conv3", 64, 64, 2}, {"conv4", 64, FeatureDim, 2}}

// NewClassifier returns a classifier with PyTorch's default initialisation
// from seed.
func NewClassifier(seed uint64) *Classifier {
	p := nn.NewParams()
	for _, l := range clfLayers {
		nn.DeclareConv(p, seed, l.name, l.in, l.out, 3)
	}
	nn.DeclareLinear(p, seed, "fc", FeatureDim, 10)
	return &Classifier{Params: p, classes: 10}
}

// build adds the network to g: it returns the features and the logits.
func (c *Classifier) build(g *nn.Graph, x *G.Node) (feat, logits *G.Node) {
	h := x
	for _, l := range clfLayers {
		h = nn.SiLU(g.Conv(l.name, h, nn.Same(3, l.strd, 1)))
	}
	feat = nn.MeanHW(h)
	return feat, g.Linear("fc", feat)
}

// Features returns the penultimate features (n×FeatureDim) and the logits
// (n×10) of n images x (n·32·32 values), in batches of at most batch.
func (c *Classifier) Features(x []float32, n, batch int) (feat, logits []float32, err error) {
	const per = 32 * 32
	if len(x) != n*per {
		return nil, nil, fmt.Errorf("classifier: %d values for %d 32×32 images", len(x), n)
	}
	if batch <= 0 {
		return nil, nil, fmt.Errorf("classifier: batch size %d must be positive", batch)
	}
	if c.infer.Def == nil {
		c.infer.Def = func([][]int) nn.FuncDef {
			return nn.FuncDef{Params: c.Params, Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
				f, l := c.build(g, in[0])
				return []*G.Node{f, l}, nil
			}}
		}
	}
	feat = make([]float32, n*FeatureDim)
	logits = make([]float32, n*c.classes)
	for i := 0; i < n; i += batch {
		b := min(batch, n-i)
		xb := tensor.New(tensor.WithShape(b, 1, 32, 32), tensor.WithBacking(x[i*per:(i+b)*per]))
		out, err := c.infer.Call(xb)
		if err != nil {
			return nil, nil, err
		}
		copy(feat[i*FeatureDim:], out[0].Data().([]float32))
		copy(logits[i*c.classes:], out[1].Data().([]float32))
	}
	return feat, logits, nil
}

// Predict returns the most likely digit of each of n images.
func (c *Classifier) Predict(x []float32, n int) ([]int64, error) {
	_, logits, err := c.Features(x, n, 256)
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	for i := range out {
		best := 0
		for k := 1; k < c.classes; k++ {
			if logits[i*c.classes+k] > logits[i*c.classes+best] {
				best = k
			}
		}
		out[i] = int64(best)
	}
	return out, nil
}

// Accuracy returns the fraction of n images whose predicted digit is the
// label.
func (c *Classifier) Accuracy(x []float32, labels []int64) (float64, error) {
	pred, err := c.Predict(x, len(labels))
	if err != nil {
		return 0, err
	}
	ok := 0
	for i, p := range pred {
		if p == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(labels)), nil
}

// ClassifierTrainConfig is the recipe of the shipped classifier.
type ClassifierTrainConfig struct {
	Epochs, Batch int
	LR            float64
	Seed          uint64
}

// DefaultClassifierTrainConfig returns the recipe the shipped weights were
// trained with.
func DefaultClassifierTrainConfig() ClassifierTrainConfig {
	return ClassifierTrainConfig{Epochs: 3, Batch: 128, LR: 2e-3, Seed: 0}
}

// TrainClassifier trains a classifier on MNIST's training images with Adam
// and a cosine learning-rate decay (train.LR), in the toolkit's training
// loop; progress, when set, gets one line per epoch.
func TrainClassifier(data *datasets.Images, cfg ClassifierTrainConfig, progress io.Writer) (*Classifier, error) {
	if ch, h, w := data.Shape(); ch != 1 || h != 32 || w != 32 {
		return nil, fmt.Errorf("classifier: %s images are %d×%d×%d, want 1×32×32", data.Name, ch, h, w)
	}
	if cfg.Epochs <= 0 || cfg.Batch <= 0 || !(cfg.LR > 0) || math.IsInf(cfg.LR, 0) {
		return nil, fmt.Errorf("classifier: epochs %d, batch %d and learning rate %g must be positive", cfg.Epochs, cfg.Batch, cfg.LR)
	}
	per := data.Len() / cfg.Batch
	if per == 0 {
		return nil, fmt.Errorf("classifier: batch %d is larger than the %d images of %s", cfg.Batch, data.Len(), data.Name)
	}
	// A step keeps every layer's output (and its SiLU) for the backward
	// pass: a lower bound on what it takes.
	act, hw := 0.0, 32
	for _, l := range clfLayers {
		hw /= l.strd
		act += 2 * 4 * float64(l.out*hw*hw)
	}
	if err := sysmem.Check(float64(cfg.Batch)*(act+4*32*32+8), fmt.Sprintf("classifier: batch %d (training on 1×32×32 images)", cfg.Batch)); err != nil {
		return nil, err
	}
	c := NewClassifier(cfg.Seed)
	f, err := nn.NewFunc(nn.FuncDef{Params: c.Params, Inputs: [][]int{{cfg.Batch, 1, 32, 32}, {cfg.Batch, 10}}, Grad: true,
		Build: func(g *nn.Graph, in []*G.Node) ([]*G.Node, error) {
			_, logits := c.build(g, in[0])
			return []*G.Node{nn.SoftmaxCrossEntropy(logits, in[1])}, nil
		}})
	if err != nil {
		return nil, err
	}
	loader, err := datasets.NewLoader(data, cfg.Batch, cfg.Seed)
	if err != nil {
		return nil, err
	}
	opt := nn.NewAdam(cfg.LR)
	xb := make([]float32, cfg.Batch*32*32)
	lb := make([]int64, cfg.Batch)
	steps := cfg.Epochs * per
	lr := train.LR{Peak: cfg.LR, Decay: "cosine", Steps: steps}
	var sum float64
	loop := &train.Loop{Steps: steps, Step: func(step int) error {
		loader.Next(xb, lb)
		x := tensor.New(tensor.WithShape(cfg.Batch, 1, 32, 32), tensor.WithBacking(xb))
		y := tensor.New(tensor.WithShape(cfg.Batch, 10), tensor.WithBacking(nn.OneHot(lb, 10)))
		if _, err := f.Call(x, y); err != nil {
			return err
		}
		l := f.Scalar(0)
		if math.IsNaN(l) {
			return fmt.Errorf("classifier: loss is NaN at step %d", step)
		}
		sum += l
		opt.LR = lr.At(step)
		names, grads := f.Gradients()
		return opt.Update(c.Params, names, grads)
	}}
	if progress != nil {
		loop.Periodic = []train.Periodic{{Every: per, Do: func(step int) error {
			fmt.Fprintf(progress, "epoch %d: mean loss %.4f\n", step/per, sum/float64(per))
			sum = 0
			return nil
		}}}
	}
	if err := loop.Run(context.Background()); err != nil {
		return nil, err
	}
	return c, nil
}

// Save writes the classifier's weights to an .npz file.
func (c *Classifier) Save(path string) error {
	names := c.Params.Names()
	arrays := map[string]npzio.Array{}
	for _, n := range names {
		arrays[n] = npzio.Float32(c.Params.Data(n), c.Params.Get(n).Shape().Clone()...)
	}
	return npzio.Write(path, names, arrays)
}

// LoadClassifier reads classifier weights from an .npz file.
func LoadClassifier(path string) (*Classifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := classifierFrom(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func classifierFrom(b []byte) (*Classifier, error) {
	arrays, err := npzio.ReadBytes(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	c := NewClassifier(0)
	ts := map[string]*tensor.Dense{}
	for k, a := range arrays {
		if a.F32 == nil {
			return nil, fmt.Errorf("weight %q is %s, want float32", k, a.Dtype())
		}
		ts[k] = tensor.New(tensor.WithShape(a.Shape...), tensor.WithBacking(a.F32))
	}
	if err := c.Params.Set(ts); err != nil {
		return nil, err
	}
	return c, nil
}

//go:embed weights
var weights embed.FS

// ShippedClassifierFile is where the shipped classifier's weights live in
// the repository.
const ShippedClassifierFile = "metrics/weights/mnist_classifier.npz"

// MNISTClassifier returns the shipped classifier, trained by
// `go run ./experiments/classifier` (see DefaultClassifierTrainConfig).
func MNISTClassifier() (*Classifier, error) {
	b, err := weights.ReadFile("weights/mnist_classifier.npz")
	if err != nil {
		return nil, fmt.Errorf("no shipped classifier weights (train them with go run ./experiments/classifier): %w", err)
	}
	c, err := classifierFrom(b)
	if err != nil {
		return nil, fmt.Errorf("shipped classifier: %w", err)
	}
	return c, nil
}
