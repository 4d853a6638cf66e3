package distill

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/unet"
)

// Clockwork is a diffusion.Denoiser that runs a U-Net with its
// low-resolution core replaced by an adaptor on the clock's steps: on a
// full step it runs the shell and the core and keeps r_out; on an adaptor
// step it runs the shell around the adaptor, which sees r_in and the kept
// r_out of the previous step. Any sampler runs it (it learns the step from
// BeginStep); under guidance it goes inside diffusion.Guided, and then
// keeps r_out for every branch's rows alike. A feature hook set through
// diffusion.Tapper sees the shell's and the core's taps (an adaptor step
// has no core taps: the adaptor replaces them).
//
// It counts the FLOPs it spends (diffusion.FLOPCounter): per row, the
// shell's plus the core's or the adaptor's, from unet.Cost.
type Clockwork struct {
	Model   *unet.Model
	Adaptor Adaptor
	Clock   Clock
	// Hook, when set, sees the U-Net's taps (diffusion.Tapper).
	Hook unet.Hook

	split      unet.Split
	step       int
	t, prevT   float64
	prev       *tensor.Dense // r_out for the next adaptor step: the last step's, kept when an adaptor step reads it; nil before the first
	buf        *tensor.Dense // prev's storage, kept across sampling runs (exchanged with the model's at each full step: unet.Model.CoreTake)
	flops      int64
	shellFLOPs int64
	coreFLOPs  int64
	adaptFLOPs int64
	costHW     [3]int
	tokens     int // text tokens of the last prediction's conditioning
}

// NewClockwork checks that the clock suits the adaptor and returns the
// denoiser.
func NewClockwork(m *unet.Model, a Adaptor, c Clock) (*Clockwork, error) {
	cfg := a.Config()
	if err := c.Validate(cfg.NeedsPrev()); err != nil {
		return nil, err
	}
	if k, err := cfg.kind(); err != nil {
		return nil, err
	} else if k.PerStep && cfg.Steps != c.Steps() {
		return nil, fmt.Errorf("a %s adaptor for %d steps on a clock of %d", cfg.Kind, cfg.Steps, c.Steps())
	}
	if a.Base().Teacher != m {
		return nil, fmt.Errorf("the adaptor was built for another model")
	}
	return &Clockwork{Model: m, Adaptor: a, Clock: c, split: a.Base().Cut}, nil
}

// SetTapHook implements diffusion.Tapper.
func (c *Clockwork) SetTapHook(h unet.Hook) { c.Hook = h }

// BeginStep implements diffusion.Stepper.
func (c *Clockwork) BeginStep(info diffusion.StepInfo) error {
	if info.Steps != c.Clock.Steps() {
		return fmt.Errorf("clockwork: clock %s is for %d model evaluations; the sampler makes %d", c.Clock, c.Clock.Steps(), info.Steps)
	}
	if info.Index > 0 && info.Index != c.step+1 {
		return fmt.Errorf("clockwork: step %d after step %d", info.Index+1, c.step+1)
	}
	c.step = info.Index
	if info.Index == 0 {
		c.prev = nil
		c.t = 0
	}
	c.prevT, c.t = c.t, info.T
	return nil
}

// nextIsAdaptor reports whether the step after this one is an adaptor step.
func (c *Clockwork) nextIsAdaptor() bool {
	return c.step+1 < c.Clock.Steps() && c.Clock.Adaptor[c.step+1]
}

// buffer returns the kept r_out buffer, (re)allocated for shape s.
func (c *Clockwork) buffer(s tensor.Shape) *tensor.Dense {
	if c.buf == nil || !c.buf.Shape().Eq(s) {
		c.buf = tensor.New(tensor.WithShape(s.Clone()...), tensor.Of(tensor.Float32))
	}
	return c.buf
}

// FLOPs implements diffusion.FLOPCounter.
func (c *Clockwork) FLOPs() int64 { return c.flops }

func (c *Clockwork) costs(h, w int) {
	if c.costHW == [3]int{h, w, c.tokens} && c.coreFLOPs != 0 {
		return
	}
	c.shellFLOPs, c.coreFLOPs = c.split.Cost(c.Model.CostAt(h, w, c.tokens))
	c.adaptFLOPs = c.Adaptor.FLOPs()
	c.costHW = [3]int{h, w, c.tokens}
}

// StepFLOPs returns the FLOPs of one row at a step: the shell's plus the
// core's on a full step, the adaptor's on an adaptor step; a
// text-conditioned model's cross-attention at the text length of the last
// prediction (none before the first), as diffusion.ModelDenoiser counts
// it.
func (c *Clockwork) StepFLOPs(step, h, w int) int64 {
	c.costs(h, w)
	if c.Clock.Adaptor[step] {
		return c.shellFLOPs + c.adaptFLOPs
	}
	return c.shellFLOPs + c.coreFLOPs
}

// Predict implements diffusion.Denoiser.
func (c *Clockwork) Predict(x *tensor.Dense, t float64, cond diffusion.Cond) (*tensor.Dense, error) {
	if c.step >= c.Clock.Steps() {
		return nil, fmt.Errorf("clockwork: step %d beyond the clock's %d", c.step+1, c.Clock.Steps())
	}
	in, err := diffusion.ModelInput(c.Model, x, cond)
	if err != nil {
		return nil, err
	}
	sh, err := c.split.ShellIn(in, []float64{t}, cond.UNet(), c.Hook)
	if err != nil {
		return nil, err
	}
	var rOut *tensor.Dense
	if c.Clock.Adaptor[c.step] {
		if c.prev != nil && c.prev.Shape()[0] != x.Shape()[0] {
			return nil, fmt.Errorf("clockwork: %d rows at step %d, %d at the step before", x.Shape()[0], c.step+1, c.prev.Shape()[0])
		}
		rOut, err = c.Adaptor.Apply(Inputs{RIn: sh.RIn, ROutPrev: c.prev, Emb: sh.Emb, Cond: cond, Step: c.step, StepSize: c.prevT - t, Shell: sh})
	} else {
		// The core's r_out becomes the kept buffer without a copy; the
		// buffer kept before (r_out of the last full step, which no step
		// reads any more) goes back to the model for its next core run.
		var spare *tensor.Dense
		if c.buf != nil && c.buf.Shape().Eq(sh.ROutShape()) {
			spare = c.buf
		}
		if rOut, err = c.Model.CoreTake(sh, spare, c.Hook); err == nil {
			c.buf, c.prev = rOut, rOut
		}
	}
	if err != nil {
		return nil, fmt.Errorf("step %d: %w", c.step+1, err)
	}
	if rOut != c.prev && c.nextIsAdaptor() {
		// The next step's adaptor reads this r_out from the kept buffer
		// (the adaptor's own output is overwritten by its next call). A
		// full step next writes the buffer itself, so no copy then.
		if c.prev == nil || !c.prev.Shape().Eq(rOut.Shape()) {
			c.prev = c.buffer(rOut.Shape())
		}
		copy(c.prev.Data().([]float32), rOut.Data().([]float32))
	}
	out, err := c.Model.ShellOut(sh, rOut, c.Hook)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	c.tokens = cond.Tokens()
	c.flops += int64(s[0]) * c.StepFLOPs(c.step, s[2], s[3])
	return out, nil
}
