package distill

import (
	"fmt"
	"strconv"
	"strings"
)

// Schedule says which sampling steps run the adaptor instead of the core
// (the paper's clock C(t)).
type Schedule struct {
	// Adaptor[i] is true when step i (0-based) runs the adaptor.
	Adaptor []bool
}

// Steps returns the number of sampling steps the schedule is for.
func (s Schedule) Steps() int { return len(s.Adaptor) }

// Count returns the number of adaptor steps.
func (s Schedule) Count() int {
	n := 0
	for _, a := range s.Adaptor {
		if a {
			n++
		}
	}
	return n
}

// Clock returns clock n over steps: the full U-Net at steps 1, 1+n, 1+2n, …
// (1-based) and the adaptor at the others. Clock 1 never runs the adaptor.
func Clock(n, steps int) (Schedule, error) {
	if n < 1 {
		return Schedule{}, fmt.Errorf("clock %d must be at least 1", n)
	}
	if steps < 1 {
		return Schedule{}, fmt.Errorf("a schedule needs at least one step, have %d", steps)
	}
	s := Schedule{Adaptor: make([]bool, steps)}
	for i := range s.Adaptor {
		s.Adaptor[i] = i%n != 0
	}
	return s, nil
}

// At returns the schedule whose adaptor steps are the 1-based steps given.
func At(steps int, adaptorSteps ...int) (Schedule, error) {
	if steps < 1 {
		return Schedule{}, fmt.Errorf("a schedule needs at least one step, have %d", steps)
	}
	s := Schedule{Adaptor: make([]bool, steps)}
	for _, k := range adaptorSteps {
		if k < 1 || k > steps {
			return Schedule{}, fmt.Errorf("adaptor step %d is outside the %d steps (1 to %d)", k, steps, steps)
		}
		if s.Adaptor[k-1] {
			return Schedule{}, fmt.Errorf("adaptor step %d given twice", k)
		}
		s.Adaptor[k-1] = true
	}
	return s, nil
}

// All is the schedule that runs the adaptor at every step, the first
// included: plain distillation of the core, for adaptors that do not use
// the previous step's r_out.
func All(steps int) Schedule {
	s := Schedule{Adaptor: make([]bool, steps)}
	for i := range s.Adaptor {
		s.Adaptor[i] = true
	}
	return s
}

// ParseSchedule reads "clock:N" (or "N" alone), "all", or a comma-separated
// list of 1-based adaptor steps ("2,4,6,8").
func ParseSchedule(spec string, steps int) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "all":
		return All(steps), nil
	case strings.HasPrefix(spec, "clock:"):
		n, err := strconv.Atoi(strings.TrimPrefix(spec, "clock:"))
		if err != nil {
			return Schedule{}, fmt.Errorf("schedule %q: clock:N takes a whole number", spec)
		}
		return Clock(n, steps)
	case !strings.Contains(spec, ","):
		if n, err := strconv.Atoi(spec); err == nil {
			return At(steps, n)
		}
	}
	var list []int
	for _, f := range strings.Split(spec, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return Schedule{}, fmt.Errorf("schedule %q: want clock:N, all, or a list of 1-based steps such as 2,4,6,8", spec)
		}
		list = append(list, k)
	}
	return At(steps, list...)
}

// Validate reports a schedule an adaptor cannot run: one whose first step
// is an adaptor step when the adaptor needs the previous step's r_out.
func (s Schedule) Validate(needsPrev bool) error {
	if len(s.Adaptor) == 0 {
		return fmt.Errorf("empty schedule")
	}
	if needsPrev && s.Adaptor[0] {
		return fmt.Errorf("schedule %s runs the adaptor at step 1, which has no previous step's r_out: the first step must be full", s)
	}
	return nil
}

// Steps1 returns the 1-based adaptor steps.
func (s Schedule) Steps1() []int {
	var out []int
	for i, a := range s.Adaptor {
		if a {
			out = append(out, i+1)
		}
	}
	return out
}

// String names the schedule: "clock N" when it is one, "all", "none", or
// the set of 1-based adaptor steps.
func (s Schedule) String() string {
	n := len(s.Adaptor)
	if s.Count() == n && n > 0 {
		return "all"
	}
	if s.Count() == 0 {
		return "none"
	}
	for c := 2; c <= n; c++ {
		if cl, _ := Clock(c, n); cl.equal(s) {
			return fmt.Sprintf("clock %d", c)
		}
	}
	var parts []string
	for _, k := range s.Steps1() {
		parts = append(parts, strconv.Itoa(k))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Spec returns the schedule in ParseSchedule's syntax.
func (s Schedule) Spec() string {
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

func (s Schedule) equal(o Schedule) bool {
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
