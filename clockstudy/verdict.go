package clockstudy

import (
	"fmt"
	"strings"

	"github.com/clockwork-go/clockwork/metrics"
)

// Outcome is how a claim fares on one criterion.
type Outcome string

// The outcomes of a criterion.
const (
	Agrees      Outcome = "agrees"
	Disagrees   Outcome = "disagrees"
	WithinNoise Outcome = "within noise"
	NotMeasured Outcome = "not measured"
)

// Verdict is a claim's outcome on one criterion, and why.
type Verdict struct {
	Criterion string
	Outcome   Outcome
	Why       string
}

// Claim is a claim of the paper (or beyond it) tested on the study's
// results: the numbers in Text, the outcome per criterion in Verdicts.
type Claim struct {
	// Name identifies the claim ("headline", "learned", …).
	Name     string
	Text     string
	Verdicts []Verdict
}

// add appends a verdict.
func (c *Claim) add(criterion string, o Outcome, why string) {
	c.Verdicts = append(c.Verdicts, Verdict{Criterion: criterion, Outcome: o, Why: why})
}

// Outcome returns the verdict on a criterion, NotMeasured when the claim
// has none.
func (c Claim) Outcome(criterion string) Outcome {
	for _, v := range c.Verdicts {
		if v.Criterion == criterion {
			return v.Outcome
		}
	}
	return NotMeasured
}

// String renders the claim for summary.md: its text, then each criterion's
// verdict in bold.
func (c Claim) String() string {
	if len(c.Verdicts) == 0 {
		return c.Text
	}
	var parts []string
	for _, v := range c.Verdicts {
		s := fmt.Sprintf("%s: **%s**", v.Criterion, v.Outcome)
		if v.Why != "" {
			s += " (" + v.Why + ")"
		}
		parts = append(parts, s)
	}
	return strings.TrimSpace(c.Text) + " Verdicts: " + strings.Join(parts, "; ") + "."
}

// one returns a claim with one verdict.
func one(name, text, criterion string, o Outcome) Claim {
	return Claim{Name: name, Text: text, Verdicts: []Verdict{{Criterion: criterion, Outcome: o}}}
}

// decide is the outcome of a criterion decided by intervals: within noise
// when they do not separate, else agrees or disagrees.
func decide(ok, separate bool) Outcome {
	switch {
	case !separate:
		return WithinNoise
	case ok:
		return Agrees
	}
	return Disagrees
}

// overlap reports whether two intervals overlap.
func overlap(a, b metrics.Interval) bool { return a.Lo <= b.Hi && b.Lo <= a.Hi }

// versus says how a measure compares, lower being better: "lower", "higher"
// or "within noise" (overlapping intervals).
func versus(a, b metrics.Interval) string {
	switch {
	case overlap(a, b):
		return "within noise of"
	case a.Value < b.Value:
		return "lower than"
	}
	return "higher than"
}

// worse reports a higher (worse) than b with separate intervals.
func worse(a, b metrics.Interval) bool { return a.Value > b.Value && !overlap(a, b) }
