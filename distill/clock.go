package distill

import (
	"fmt"
	"strconv"
	"strings"
)

// Clock says which model evaluations of a sampling run use the adaptor
// instead of the core: the paper's clock C(t) (Habibian et al., CVPR 2024,
// Sec. 4.3). Its length is the run's model evaluations (one per step for
// the toolkit's samplers; diffusion.EvalsFor).
type Clock struct {
	// Adaptor[i] is true when step i (0-based) runs the adaptor.
	Adaptor []bool
}

// Steps returns the number of sampling steps the clock is for.
func (s Clock) Steps() int { return len(s.Adaptor) }

// Count returns the number of adaptor steps.
func (s Clock) Count() int {
	n := 0
	for _, a := range s.Adaptor {
		if a {
			n++
		}
	}
	return n
}

// ClockN returns clock n over steps: the full U-Net at steps 1, 1+n, 1+2n, …
// (1-based) and the adaptor at the others. Clock 1 never runs the adaptor.
func ClockN(n, steps int) (Clock, error) {
	if n < 1 {
		return Clock{}, fmt.Errorf("clock %d must be at least 1", n)
	}
	if steps < 1 {
		return Clock{}, fmt.Errorf("a clock needs at least one step, have %d", steps)
	}
	s := Clock{Adaptor: make([]bool, steps)}
	for i := range s.Adaptor {
		s.Adaptor[i] = i%n != 0
	}
	return s, nil
}

// ClockAt returns the clock whose adaptor steps are the 1-based steps given.
func ClockAt(steps int, adaptorSteps ...int) (Clock, error) {
	if steps < 1 {
		return Clock{}, fmt.Errorf("a clock needs at least one step, have %d", steps)
	}
	s := Clock{Adaptor: make([]bool, steps)}
	for _, k := range adaptorSteps {
		if k < 1 || k > steps {
			return Clock{}, fmt.Errorf("adaptor step %d is outside the %d steps (1 to %d)", k, steps, steps)
		}
		if s.Adaptor[k-1] {
			return Clock{}, fmt.Errorf("adaptor step %d given twice", k)
		}
		s.Adaptor[k-1] = true
	}
	return s, nil
}

// ClockAll is the clock that runs the adaptor at every step, the first
// included: plain distillation of the core, for adaptors that do not use
// the previous step's r_out.
func ClockAll(steps int) Clock {
	s := Clock{Adaptor: make([]bool, steps)}
	for i := range s.Adaptor {
		s.Adaptor[i] = true
	}
	return s
}

// ParseClock reads "clock:N" (or "N" alone), "all", or a comma-separated
// list of 1-based adaptor steps ("2,4,6,8").
func ParseClock(spec string, steps int) (Clock, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "all":
		return ClockAll(steps), nil
	case strings.HasPrefix(spec, "clock:"):
		n, err := strconv.Atoi(strings.TrimPrefix(spec, "clock:"))
		if err != nil {
			return Clock{}, fmt.Errorf("clock %q: clock:N takes a whole number", spec)
		}
		return ClockN(n, steps)
	case !strings.Contains(spec, ","):
		if n, err := strconv.Atoi(spec); err == nil {
			return ClockAt(steps, n)
		}
	}
	var list []int
	for _, f := range strings.Split(spec, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return Clock{}, fmt.Errorf("clock %q: want clock:N, all, or a list of 1-based steps such as 2,4,6,8", spec)
		}
		list = append(list, k)
	}
	return ClockAt(steps, list...)
}

// Validate reports a clock an adaptor cannot run: one whose first step
// is an adaptor step when the adaptor needs the previous step's r_out.
func (s Clock) Validate(needsPrev bool) error {
	if len(s.Adaptor) == 0 {
		return fmt.Errorf("empty clock")
	}
	if needsPrev && s.Adaptor[0] {
		return fmt.Errorf("clock %s runs the adaptor at step 1, which has no previous step's r_out: the first step must be full", s)
	}
	return nil
}

// Steps1 returns the 1-based adaptor steps.
func (s Clock) Steps1() []int {
	var out []int
	for i, a := range s.Adaptor {
		if a {
			out = append(out, i+1)
		}
	}
	return out
}

// String names the clock: "clock N" when it is one, "all", "none", or
// the set of 1-based adaptor steps.
func (s Clock) String() string {
	n := len(s.Adaptor)
	if s.Count() == n && n > 0 {
		return "all"
	}
	if s.Count() == 0 {
		return "none"
	}
	for c := 2; c <= n; c++ {
		if cl, _ := ClockN(c, n); cl.equal(s) {
			return fmt.Sprintf("clock %d", c)
		}
	}
	var parts []string
	for _, k := range s.Steps1() {
		parts = append(parts, strconv.Itoa(k))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Format returns the clock in ParseClock's syntax.
func (s Clock) Format() string {
	str := s.String()
	switch {
	case strings.HasPrefix(str, "clock "):
		return "clock:" + strings.TrimPrefix(str, "clock ")
	case str == "all", str == "none":
		if str == "none" {
			return "clock:1"
		}
		return str
	}
	return strings.Trim(str, "{}")
}

func (s Clock) equal(o Clock) bool {
	if len(s.Adaptor) != len(o.Adaptor) {
		return false
	}
	for i := range s.Adaptor {
		if s.Adaptor[i] != o.Adaptor[i] {
			return false
		}
	}
	return true
}
