package speed

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/internal/sysmem"
	"github.com/clockwork-go/clockwork/nn"
	"github.com/clockwork-go/clockwork/unet"
)

// Mode is what a benchmark step does.
type Mode string

// The benchmark modes.
const (
	Train  Mode = "train"  // forward, backward and an Adam update
	Sample Mode = "sample" // one forward pass without gradients
)

// Options describe a benchmark run.
type Options struct {
	Config unet.Config
	Batch  int
	Steps  int
	Warmup int
	Mode   Mode
	Seed   uint64
	// Tokens is the length of the text a UNet2DConditionModel attends to
	// (random embeddings, as a frozen text encoder would give); 0: 16.
	Tokens int
	// Profile, when set, receives a CPU profile (runtime/pprof) of the
	// timed steps.
	Profile io.Writer
}

func (opts Options) tokens() int {
	if opts.Tokens > 0 {
		return opts.Tokens
	}
	return 16
}

// Validate checks the options, and that the model and a step's batch fit
// in the memory available (estimates from shapes, nothing allocated); the
// error names the option. Run validates them too; callers check them first
// to fail before creating any file (a profile).
func (opts Options) Validate() error {
	if opts.Batch <= 0 || opts.Steps <= 0 {
		return fmt.Errorf("batch %d and steps %d must be positive", opts.Batch, opts.Steps)
	}
	if opts.Warmup < 0 {
		return fmt.Errorf("warmup %d must not be negative", opts.Warmup)
	}
	if opts.Mode != Train && opts.Mode != Sample {
		return fmt.Errorf("mode %q: want train or sample", opts.Mode)
	}
	c := opts.Config
	h, w, err := c.SampleHW()
	if err != nil {
		return err
	}
	if err := c.CheckSize(h, w); err != nil {
		return fmt.Errorf("config sample_size: %w", err)
	}
	if err := c.CheckParamMemory(); err != nil {
		return err
	}
	var need float64
	if opts.Mode == Train {
		need, err = diffusion.TrainMemory(c, opts.Batch, h, w)
	} else {
		need, err = c.ForwardMemory(opts.Batch, h, w)
	}
	if err != nil {
		return err
	}
	return sysmem.Check(need, fmt.Sprintf("batch %d (%s steps on %d×%d×%d samples)", opts.Batch, opts.Mode, c.InChannels, h, w))
}

// Run times opts.Steps steps after opts.Warmup untimed ones, writes one line
// per step to w, and returns the per-step durations in seconds.
func Run(opts Options, w io.Writer) ([]float64, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m, err := unet.New(opts.Config, opts.Seed)
	if err != nil {
		return nil, err
	}
	c := opts.Config
	h, wd, err := c.SampleHW()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 1))
	randn := func(shape ...int) *tensor.Dense {
		d := make([]float32, tensor.Shape(shape).TotalSize())
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
	}
	n := opts.Batch
	x := randn(n, c.InChannels, h, wd)
	target := randn(n, c.OutChannels, h, wd)
	t := make([]float64, n)
	var cond diffusion.Cond
	for i := range t {
		t[i] = float64(rng.IntN(1000))
		if k := c.NumClasses(); k > 0 {
			cond.Labels = append(cond.Labels, int64(rng.IntN(k)))
		}
	}
	tokens := 0
	if c.Conditional() {
		// Fixed text embeddings, as a frozen text encoder gives them.
		tokens = opts.tokens()
		cond.Text = randn(n, tokens, c.CrossAttentionDim)
	}
	var step func() error
	switch opts.Mode {
	case Train:
		tg, err := diffusion.NewTrainGraph(m, nil, n, h, wd, tokens)
		if err != nil {
			return nil, err
		}
		opt := nn.NewAdam(1e-4)
		step = func() error {
			if _, err := tg.Run(diffusion.TrainInput{X: x, T: t, Cond: cond, Target: target}); err != nil {
				return err
			}
			names, grads := tg.Gradients()
			return opt.Update(m.Params, names, grads)
		}
	case Sample:
		step = func() error {
			_, err := m.Forward(x, t, cond.UNet(), nil)
			return err
		}
	}
	for i := 0; i < opts.Warmup; i++ {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if opts.Profile != nil {
		if err := pprof.StartCPUProfile(opts.Profile); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var times []float64
	for i := 0; i < opts.Steps; i++ {
		start := time.Now()
		if err := step(); err != nil {
			return nil, err
		}
		d := time.Since(start).Seconds()
		times = append(times, d)
		fmt.Fprintf(w, "step %d %.6f s\n", i, d)
	}
	runtime.ReadMemStats(&after)
	fmt.Fprintf(w, "heap allocations per step: %d (%d bytes)\n",
		(after.Mallocs-before.Mallocs)/uint64(opts.Steps), (after.TotalAlloc-before.TotalAlloc)/uint64(opts.Steps))
	return times, nil
}

// Median returns the median of xs.
func Median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
