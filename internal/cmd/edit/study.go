package edit

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/plots"
)

// stepSpec is a study's step count, and the strength its edits start at
// (0: from noise).
type stepSpec struct {
	steps    int
	strength float64
}

// String names the steps as a study's row does.
func (s stepSpec) String() string {
	if s.strength == 0 {
		return fmt.Sprintf("%d steps", s.steps)
	}
	k, _ := diffusion.StepsFrom(s.steps, s.strength)
	return fmt.Sprintf("%d of %d steps from the source (strength %g)", k, s.steps, s.strength)
}

// parseSteps reads comma-separated step counts ("" for none), each
// optionally with a strength: "8@0.5" runs the last 4 of 8 steps from the
// source (edits.Options.Strength).
func parseSteps(s string) ([]stepSpec, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []stepSpec
	for _, f := range strings.Split(s, ",") {
		steps, strength, at := strings.Cut(strings.TrimSpace(f), "@")
		v, err := strconv.Atoi(steps)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("steps %q", f)
		}
		sp := stepSpec{steps: v}
		if at {
			if sp.strength, err = strconv.ParseFloat(strength, 64); err != nil || !(sp.strength > 0 && sp.strength < 1) {
				return nil, fmt.Errorf("strength %q", f)
			}
			if _, err := diffusion.StepsFrom(v, sp.strength); err != nil {
				return nil, err
			}
		}
		out = append(out, sp)
	}
	return out, nil
}

type studyConfig struct {
	given                                   [3]bool
	model, student, adaptor, studentAdaptor string
	o                                       edits.Options
	fewer, studentSteps                     []stepSpec
	chainSteps, studentChainSteps           []stepSpec
	setup                                   edits.StudySetup
	dir, split                              string
}

// adaptorSteps returns the steps an adaptor runs at: a distilled
// adaptor's own (from noise, or from the source at the strength it was
// distilled for), identity's the given ones (its clock covers the steps
// each run makes).
func adaptorSteps(adaptor string, steps []stepSpec) ([]stepSpec, error) {
	if adaptor == "identity" {
		return steps, nil
	}
	man, err := distill.ReadManifest(adaptor)
	if err != nil {
		return nil, err
	}
	return []stepSpec{{steps: man.Steps, strength: man.Strength}}, nil
}

// runStudy runs -study.
func runStudy(c *cli.Command, sc studyConfig) int {
	teacher, err := edits.LoadThreePass(sc.model)
	if err != nil {
		return c.Fail(err)
	}
	teacher.Defaults.Apply(&sc.o, !sc.given[0], !sc.given[1], !sc.given[2])
	var methods []edits.Method
	// add appends the editor's methods: at each of steps, and with each
	// of the adaptors (if any) at its own steps (identity's: each of
	// steps); chained, editing clauses in turn, when chain is set (none
	// without steps).
	add := func(kind string, e *edits.Editor, steps []stepSpec, adaptor, flag string, chain bool) error {
		if chain {
			if len(steps) == 0 {
				return nil
			}
			kind += " chained"
		}
		for _, k := range steps {
			o := sc.o
			o.Steps, o.Strength, o.Chain = k.steps, k.strength, chain
			methods = append(methods, edits.Method{Name: fmt.Sprintf("%s, %v", kind, k), Editor: e, Options: o})
		}
		if adaptor == "" {
			return nil
		}
		for _, a := range strings.Split(adaptor, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				return fmt.Errorf("%s %q: an empty entry in the list of adaptors", flag, adaptor)
			}
			as, err := adaptorSteps(a, steps)
			if err != nil {
				return fmt.Errorf("%s: %w", flag, err)
			}
			for _, k := range as {
				o := sc.o
				o.Steps, o.Strength, o.Chain = k.steps, k.strength, chain
				name := fmt.Sprintf("%s + Clockwork, %v", kind, k)
				if slices.ContainsFunc(methods, func(m edits.Method) bool { return m.Name == name }) {
					// Another of the adaptors runs at these steps.
					name = fmt.Sprintf("%s + Clockwork (%s), %v", kind, filepath.Base(filepath.Clean(a)), k)
				}
				methods = append(methods, edits.Method{Name: name, Editor: e, Options: o, Adaptor: a})
			}
		}
		return nil
	}
	// The reference first; the adaptor of the three-pass editor runs at
	// -fewer's steps (identity) or its own.
	methods = append(methods, edits.Method{Name: fmt.Sprintf("three-pass, %d steps", sc.o.Steps), Editor: teacher, Options: sc.o})
	if err := add("three-pass", teacher, sc.fewer, sc.adaptor, "-adaptor", false); err != nil {
		return c.Fail(err)
	}
	var st *edits.Editor
	if sc.student != "" {
		if st, err = edits.LoadStudent(sc.student); err == nil {
			err = st.CheckTeacher(teacher)
		}
		if err != nil {
			return c.Fail(err)
		}
		if err := add("guidance-distilled", st, sc.studentSteps, sc.studentAdaptor, "-student-adaptor", false); err != nil {
			return c.Fail(err)
		}
	} else if sc.studentAdaptor != "" || len(sc.studentChainSteps) > 0 {
		return c.Usage("-student-adaptor and -student-chain-steps go with -student")
	}
	// Clauses in turn, after the one-edit rows: the first chained row is
	// the chained methods' own reference (edits.StudyFindings).
	if err := add("three-pass", teacher, sc.chainSteps, sc.adaptor, "-adaptor", true); err != nil {
		return c.Fail(err)
	}
	if st != nil {
		if err := add("guidance-distilled", st, sc.studentChainSteps, sc.studentAdaptor, "-student-adaptor", true); err != nil {
			return c.Fail(err)
		}
	}
	if err := os.MkdirAll(sc.dir, 0o755); err != nil {
		return c.Fail(err)
	}
	m, err := captions.DefaultMeasurer()
	if err != nil {
		return c.Fail(err)
	}
	set, err := edits.OpenSplit(sc.split, sc.setup.N)
	if err != nil {
		return c.Fail(err)
	}
	prog := cli.NewProgress(c.Stderr, len(methods), "study")
	done := 0
	start := time.Now()
	rows, outs, err := edits.Study(methods, m, set, sc.setup, func(name string) { prog.Set(done, name); done++ })
	prog.Finish()
	if err != nil {
		return c.Fail(err)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "%d %s pairs, %s, s_T %g, s_I %g, seed %d; wall time in %d paired rounds of %d edits against the first row:\n\n", sc.setup.N, splitName[sc.split], sc.o.Sampler, sc.o.TextScale, sc.o.ImageScale, sc.setup.Seed, sc.setup.Rounds, min(sc.setup.TimeBatch, sc.setup.N))
	edits.WriteStudyTable(&md, rows)
	md.WriteString("\n")
	for _, line := range edits.StudyFindings(rows) {
		fmt.Fprintf(&md, "- %s\n", line)
	}
	if err := fsutil.WriteAtomic(filepath.Join(sc.dir, "study.md"), func(w io.Writer) error { _, err := io.WriteString(w, md.String()); return err }); err != nil {
		return c.Fail(err)
	}
	if err := c.WriteStamped(filepath.Join(sc.dir, "study.json"), map[string]any{"model": sc.model, "student": sc.student, "adaptor": sc.adaptor, "student_adaptor": sc.studentAdaptor, "split": sc.split, "setup": sc.setup, "options": sc.o, "rows": rows}); err != nil {
		return c.Fail(err)
	}
	p, err := edits.StudyPlot(rows)
	if err != nil {
		return c.Fail(err)
	}
	if _, err := plots.SaveBoth(sc.dir, "study_pareto", func(path string) error { return plots.Save(p, path, 6*vg.Inch, 4.5*vg.Inch) }); err != nil {
		return c.Fail(err)
	}
	img, labels := edits.StudyStrip(set, rows, outs, 8)
	g, err := plots.Grid(fmt.Sprintf("The first %s edits", splitName[sc.split]), img, len(labels)*min(8, sc.setup.N), 1, captions.Side, captions.Side, min(8, sc.setup.N), labels, nil)
	if err != nil {
		return c.Fail(err)
	}
	if _, err := plots.SaveBoth(sc.dir, "study_strips", func(path string) error {
		return plots.Save(g, path, 6*vg.Inch, vg.Length(0.6*float64(len(labels)+1))*vg.Inch)
	}); err != nil {
		return c.Fail(err)
	}
	c.Printf("%s", md.String())
	c.Printf("study of %d methods in %s; wrote %s\n", len(methods), time.Since(start).Round(time.Second), sc.dir)
	return 0
}
