package train

import (
	"fmt"
	"math"
)

// LR is a learning-rate schedule: a linear warm-up over Warmup steps to
// Peak, then Peak ("constant") or a half-cosine from Peak to 0 at step Steps
// ("cosine", Loshchilov & Hutter, "SGDR", ICLR 2017, without restarts).
type LR struct {
	Peak   float64
	Warmup int
	Decay  string // "constant" or "cosine"
	Steps  int
}

// Decays lists the decays LR accepts.
var Decays = []string{"constant", "cosine"}

// Validate reports the first invalid setting.
func (s LR) Validate() error {
	switch {
	case !(s.Peak > 0) || math.IsInf(s.Peak, 0):
		return fmt.Errorf("learning rate %g must be positive and finite", s.Peak)
	case s.Warmup < 0:
		return fmt.Errorf("warm-up %d must not be negative", s.Warmup)
	case s.Decay != "constant" && s.Decay != "cosine":
		return fmt.Errorf("lr decay %q is not constant or cosine", s.Decay)
	case s.Steps <= 0:
		return fmt.Errorf("steps %d must be positive", s.Steps)
	}
	return nil
}

// At returns the learning rate of step (0-based).
func (s LR) At(step int) float64 {
	lr := s.Peak
	if s.Warmup > 0 && step < s.Warmup {
		return lr * float64(step+1) / float64(s.Warmup)
	}
	if s.Decay == "cosine" && s.Steps > s.Warmup {
		p := float64(step-s.Warmup) / float64(s.Steps-s.Warmup)
		lr *= 0.5 * (1 + math.Cos(math.Pi*math.Min(p, 1)))
	}
	return lr
}
