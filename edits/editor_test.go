package edits_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/texttest"
)

// editorDir trains a tiny editor for two steps from an untrained
// text-to-image model (-init), as the train command does, and returns the
// editor's directory, the text model's and the pairs.
func editorDir(t *testing.T) (string, string, *edits.Set) {
	t.Helper()
	src, err := datasets.MNIST("test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	set, err := edits.Generate(src, 64, 3, edits.TrainMix)
	if err != nil {
		t.Fatal(err)
	}
	textDir := texttest.Dir(t, 16, 16)
	c := diffusion.DefaultTrainConfig()
	c.Steps, c.BatchSize, c.Warmup, c.CheckpointEvery, c.SampleEvery, c.LogEvery = 2, 4, 1, 2, 0, 1
	c.CondDropout = diffusion.EditDropout
	c.Init = textDir
	m, text, err := diffusion.StartModels("", set.Data, c)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.InChannels != 2 {
		t.Fatalf("-init of a text model on edit pairs: %d input channels, want 2", m.Config.InChannels)
	}
	if _, err := text.IDs([]string{"make it thicker and rotate it a little left"}); err != nil {
		t.Fatalf("the text encoder did not learn the instructions' words: %v", err)
	}
	// The widened model computes what the text model computes, whatever
	// the source image holds, and the extended encoder reads the
	// captions' words as before.
	old, _, err := diffusion.LoadModel(textDir)
	if err != nil {
		t.Fatal(err)
	}
	oldText, err := diffusion.LoadText(textDir, old)
	if err != nil {
		t.Fatal(err)
	}
	prompt := []string{"a thick small seven in the top left", "a 3"}
	a, err := diffusion.PromptCond(oldText, prompt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := diffusion.PromptCond(text, prompt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Text.Float32s(), b.Text.Float32s()) {
		t.Fatal("the extended text encoder reads the captions' words differently")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2*32*32)
	img := make([]float32, 2*32*32)
	for i := range x {
		x[i], img[i] = float32(rng.NormFloat64()), float32(2*rng.Float64()-1)
	}
	xt := tensor.New(tensor.WithShape(2, 1, 32, 32), tensor.WithBacking(x))
	ya, err := (&diffusion.ModelDenoiser{Model: old}).Predict(xt, 500, a)
	if err != nil {
		t.Fatal(err)
	}
	b.Image = tensor.New(tensor.WithShape(2, 1, 32, 32), tensor.WithBacking(img))
	yb, err := (&diffusion.ModelDenoiser{Model: m}).Predict(xt, 500, b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ya.Float32s(), yb.Float32s()) {
		t.Fatal("the widened model's output depends on the source image before training")
	}
	run := filepath.Join(t.TempDir(), "run")
	tr, err := diffusion.NewTextTrainer(run, m, text, set.Data, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A dropout that leaves no batch with its text and image is refused.
	c.CondDropout = 0.4
	if _, err := diffusion.NewTextTrainer(filepath.Join(t.TempDir(), "r2"), m, text, set.Data, c); err == nil || !strings.Contains(err.Error(), "1/3") {
		t.Fatalf("dropout 0.4 for an editor: %v", err)
	}
	return filepath.Join(run, "model"), textDir, set
}

// loadWithSources loads the editor in dir and returns it with the
// sources of the first n pairs of set.
func loadWithSources(t *testing.T, dir string, set *edits.Set, n int) (*edits.Editor, []float32) {
	t.Helper()
	e, err := edits.LoadEditor(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	src := make([]float32, n*32*32)
	set.Data.Inputs.Batch(idx, src, nil)
	return e, src
}

func TestEditor(t *testing.T) {
	dir, textDir, set := editorDir(t)
	if _, err := edits.LoadEditor(textDir); err == nil || !strings.Contains(err.Error(), "text-to-image") {
		t.Fatalf("a text-to-image model loaded as an editor: %v", err)
	}
	e, src := loadWithSources(t, dir, set, 3)
	const per = 32 * 32
	o := edits.DefaultOptions()
	o.Steps, o.Seed = 3, 5
	o.Batch = 3
	whole, err := e.Edit(src, 3, []string{"make it thicker"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Batch = 1
	one, err := e.Edit(src, 3, []string{"make it thicker"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(whole, one) {
		t.Fatal("an edit depends on the batch")
	}
	for _, v := range whole {
		if v < -1 || v > 1 || math.IsNaN(float64(v)) {
			t.Fatalf("edited pixel %g outside [−1, 1]", v)
		}
	}
	gf, err := e.GFLOPs(o)
	if err != nil {
		t.Fatal(err)
	}
	_, f := e.Model.CostAt(32, 32, e.Text.Tokens()).Total()
	if want := (3*3*float64(f) + float64(e.Text.FLOPs())) / 1e9; gf != want {
		t.Fatalf("GFLOPs %g, want three branches of three steps and the text: %g", gf, want)
	}
	// Composed guidance: a one-clause instruction edits as without it
	// (its empty second clause adds exactly nothing); a two-clause one
	// runs a fourth branch and encodes each clause.
	oc := o
	oc.Compose = 2
	composed, err := e.Edit(src, 3, []string{"make it thicker"}, oc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(composed, whole) {
		t.Fatal("composed guidance changed a one-clause edit")
	}
	two, err := e.Edit(src, 3, []string{"make it thicker and move it up"}, oc, nil)
	if err != nil {
		t.Fatal(err)
	}
	joint, err := e.Edit(src, 3, []string{"make it thicker and move it up"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(two, joint) {
		t.Fatal("composing the clauses of a two-clause instruction changed nothing")
	}
	if gc, err := e.GFLOPs(oc); err != nil || gc != (4*3*float64(f)+2*float64(e.Text.FLOPs()))/1e9 {
		t.Fatalf("composed GFLOPs %g (%v), want four branches of three steps and two clauses' text", gc, err)
	}
	// Bad input: each a clear error.
	nan := slices.Clone(src)
	nan[per+7] = float32(math.NaN())
	for _, c := range []struct {
		name  string
		src   []float32
		n     int
		ins   []string
		opt   func(*edits.Options)
		wants string
	}{
		{"wrong size", src[:per-1], 1, []string{"make it thicker"}, nil, "values for 1 images"},
		{"NaN", nan, 3, []string{"make it thicker"}, nil, "image 1 has NaN"},
		{"unknown word", src, 3, []string{"make it purple"}, nil, `"purple"`},
		{"empty", src, 3, []string{""}, nil, "empty instruction"},
		{"NaN scale", src, 3, []string{"make it thicker"}, func(o *edits.Options) { o.TextScale = math.NaN() }, "text guidance scale NaN"},
		{"negative scale", src, 3, []string{"make it thicker"}, func(o *edits.Options) { o.ImageScale = -1 }, "image guidance scale -1"},
		{"three clauses", src, 3, []string{"make it thicker and move it up and move it up"}, func(o *edits.Options) { o.Compose = 2 }, "more than the 2 clauses"},
		{"compose -1", src, 3, []string{"make it thicker"}, func(o *edits.Options) { o.Compose = -1 }, "composing -1 clauses"},
		{"chain and compose", src, 3, []string{"make it thicker"}, func(o *edits.Options) { o.Compose, o.Chain = 2, true }, "choose one"},
		{"empty clause", src, 3, []string{"make it thicker and"}, func(o *edits.Options) { o.Chain = true }, "empty clause"},
		{"chained unknown word", src, 3, []string{"make it thicker and make it purple"}, func(o *edits.Options) { o.Chain = true }, `"purple"`},
		{"strength NaN", src, 3, []string{"make it thicker"}, func(o *edits.Options) { o.Strength = math.NaN() }, "strength NaN"},
		{"strength 2", src, 3, []string{"make it thicker"}, func(o *edits.Options) { o.Strength = 2 }, "strength 2"},
		{"strength of no step", src, 3, []string{"make it thicker"}, func(o *edits.Options) { o.Strength = 0.1 }, "keeps no step"},
	} {
		oo := o
		if c.opt != nil {
			c.opt(&oo)
		}
		if _, err := e.Edit(c.src, c.n, c.ins, oo, nil); err == nil || !strings.Contains(err.Error(), c.wants) {
			t.Fatalf("%s: %v, want an error containing %q", c.name, err, c.wants)
		}
	}
	m, err := captions.DefaultMeasurer()
	if err != nil {
		t.Fatal(err)
	}
	o.Batch = 8
	r, err := e.Evaluate(m, set, 8, o, 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Report.Pairs != 8 || r.Ceiling.L2.Value != 0 || r.Report.L2.Value <= 0 {
		t.Fatalf("evaluation of an untrained editor: %+v", r.Report)
	}
}

// TestChain checks chained clauses (Options.Chain): a one-clause
// instruction edits exactly as without chaining; "A and B" is the edit
// by A followed by the edit by B of its output, image j drawing from
// stream j in each round (clause 2 from ChainSeed's seed) whichever
// images of the batch have a second clause; the result does not depend
// on the batch; and the cost is one edit per clause.
func TestChain(t *testing.T) {
	dir, _, set := editorDir(t)
	e, src := loadWithSources(t, dir, set, 3)
	const per = 32 * 32
	o := edits.DefaultOptions()
	o.Steps, o.Seed, o.Batch = 2, 9, 3
	oc := o
	oc.Chain = true
	plain, err := e.Edit(src, 3, []string{"make it thicker"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	chained, err := e.Edit(src, 3, []string{"make it thicker"}, oc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plain, chained) {
		t.Fatal("chaining changed a one-clause edit")
	}
	ins := []string{"make it thicker and move it up", "make it bigger", "move it to the left and rotate it a little right"}
	got, err := e.Edit(src, 3, ins, oc, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.Edit(src, 3, []string{"make it thicker", "make it bigger", "move it to the left"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	o2 := o
	o2.Seed = edits.ChainSeed(o.Seed, 1)
	if o2.Seed == o.Seed {
		t.Fatal("the second clause draws the first's noise")
	}
	second, err := e.Edit(first, 3, []string{"move it up", "make it smaller", "rotate it a little right"}, o2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(second[:per], first[per:2*per], second[2*per:])
	if !slices.Equal(got, want) {
		t.Fatal("a chained edit is not its clauses' edits in turn")
	}
	oc.Batch = 1
	var last int
	one, err := e.Edit(src, 3, ins, oc, func(done int) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(one, got) || last != 3 {
		t.Fatalf("a chained edit depends on the batch, or progress ended at %d of 3", last)
	}
	g, err := e.GFLOPs(o)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := e.MeanGFLOPs(oc, ins); err != nil || math.Abs(m-g*5/3) > 1e-12*g {
		t.Fatalf("chained cost %g (%v), want 5 edits over 3 instructions: %g", m, err, g*5/3)
	}
	// In the savings study a chained method edits as Edit does, from the
	// noise of the one-edit reference's first clause, counted and timed
	// over all its clause edits.
	m, err := captions.DefaultMeasurer()
	if err != nil {
		t.Fatal(err)
	}
	phr := set.Subset(3).Phrases()
	rows, outs, err := edits.Study([]edits.Method{{Name: "plain", Editor: e, Options: o}, {Name: "chained", Editor: e, Options: oc}}, m, set,
		edits.StudySetup{N: 3, Batch: 2, Seed: o.Seed, TimeBatch: 2, Rounds: 1, Reps: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, opt := range []edits.Options{o, oc} {
		want, err := e.Edit(src, 3, phr, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(outs[k], want) {
			t.Fatalf("the study's %s edits differ from Edit's", rows[k].Name)
		}
		g, err := e.MeanGFLOPs(opt, phr)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(rows[k].GFLOPs-g) > 1e-9*g || rows[k].Chained != opt.Chain {
			t.Fatalf("%s: %g GFLOPs per edit counted (chained %v), want %g", rows[k].Name, rows[k].GFLOPs, rows[k].Chained, g)
		}
	}
	if rows[1].Timing == nil || rows[1].Timing.Rounds != 1 || rows[1].Timing.MsB <= 0 {
		t.Fatalf("the chained method's timing: %+v", rows[1].Timing)
	}
	var md strings.Builder
	edits.WriteStudyTable(&md, rows)
	if !strings.Contains(md.String(), "| chained | 2 per clause |") {
		t.Fatalf("the table does not say the steps are per clause:\n%s", md.String())
	}
	oc.Compose = 2
	if _, _, err := edits.Study([]edits.Method{{Name: "composed", Editor: e, Options: oc}}, m, set, edits.StudySetup{N: 1, Batch: 1}, nil); err == nil || !strings.Contains(err.Error(), "composed clauses") {
		t.Fatalf("a study of composed clauses: %v", err)
	}
	if _, err := edits.Clauses(" . "); err == nil || !strings.Contains(err.Error(), "empty instruction") {
		t.Fatalf("clauses of nothing: %v", err)
	}
	if c, err := edits.Clauses("make it thicker and  move it up"); err != nil || !slices.Equal(c, []string{"make it thicker", "move it up"}) {
		t.Fatalf("clauses %q (%v)", c, err)
	}
}

func TestGuidanceDistillation(t *testing.T) {
	dir, _, set := editorDir(t)
	c := diffusion.DefaultTrainConfig()
	c.Steps, c.BatchSize, c.Warmup, c.CheckpointEvery, c.SampleEvery, c.LogEvery = 2, 4, 1, 1, 0, 1
	c.Guidance = &diffusion.GuidanceDistillation{Teacher: dir, TextScale: diffusion.DefaultTextScales, ImageScale: diffusion.DefaultImageScales}
	if _, _, err := diffusion.StartModels("mnist_edit", set.Data, c); err == nil {
		t.Fatal("a config given to a guidance distillation")
	}
	m, text, err := diffusion.StartModels("", set.Data, c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Guidance.Fingerprint == "" {
		t.Fatal("the teacher's fingerprint is not recorded")
	}
	other := c
	other.Schedule.PredictionType = "v_prediction"
	if _, err := diffusion.NewTextTrainer(filepath.Join(t.TempDir(), "gd-v"), m, text, set.Data, other); err == nil || !strings.Contains(err.Error(), "not its teacher's") {
		t.Fatalf("a student under another schedule than its teacher's: %v", err)
	}
	run := filepath.Join(t.TempDir(), "gd")
	tr, err := diffusion.NewTextTrainer(run, m, text, set.Data, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// It resumes, teacher and all.
	tr2, err := diffusion.ResumeTrainer(run, set.Data)
	if err != nil {
		t.Fatal(err)
	}
	tr2.Config.Steps = 3
	if err := tr2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	student := filepath.Join(run, "model")
	if _, err := edits.LoadThreePass(student); err == nil || !strings.Contains(err.Error(), "guidance-distilled student") {
		t.Fatalf("a student loaded as a three-pass editor: %v", err)
	}
	if _, err := edits.LoadStudent(dir); err == nil || !strings.Contains(err.Error(), "three-pass editor") {
		t.Fatalf("a three-pass editor loaded as a student: %v", err)
	}
	c2 := c
	c2.Guidance = &diffusion.GuidanceDistillation{Teacher: student, TextScale: diffusion.DefaultTextScales, ImageScale: diffusion.DefaultImageScales}
	if _, _, err := diffusion.StartModels("", set.Data, c2); err == nil || !strings.Contains(err.Error(), "student") {
		t.Fatalf("a student as the teacher of guidance distillation: %v", err)
	}
	s, err := edits.LoadStudent(student)
	if err != nil {
		t.Fatal(err)
	}
	teacher, err := edits.LoadThreePass(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := edits.DefaultOptions()
	o.Steps = 3
	const per = 32 * 32
	src := make([]float32, 2*per)
	set.Data.Inputs.Batch([]int{0, 1}, src, nil)
	oc := o
	oc.Compose = 2
	if _, err := s.Edit(src, 2, []string{"move it up"}, oc, nil); err == nil || !strings.Contains(err.Error(), "three-pass editor") {
		t.Fatalf("a student composing clauses: %v", err)
	}
	a, err := s.Edit(src, 2, []string{"move it up"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Batch = 1
	b, err := s.Edit(src, 2, []string{"move it up"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Fatal("a student's edit depends on the batch")
	}
	gs, err := s.GFLOPs(o)
	if err != nil {
		t.Fatal(err)
	}
	gt, err := teacher.GFLOPs(o)
	if err != nil {
		t.Fatal(err)
	}
	if r := gt / gs; r < 2.9 || r > 3 {
		t.Fatalf("the student costs 1/%.3f of the three-pass editor, want about 1/3", r)
	}
}

// TestStudyFindingsChained: where the reference edits in one go and some
// rows edit clauses in turn, the first chained row is their reference too,
// and the cheapest chained row within the tolerance is named against both.
func TestStudyFindingsChained(t *testing.T) {
	row := func(name string, chained bool, gflops, success float64) edits.StudyRow {
		r := edits.StudyRow{Name: name, Chained: chained, GFLOPs: gflops, Saved: 32 / gflops}
		r.Report.Success.Share.Value = success
		return r
	}
	rows := []edits.StudyRow{
		row("three-pass, 20 steps", false, 32, 0.76),
		row("student, 4 steps", false, 2, 0.75),
		row("three-pass chained, 8 steps", true, 22, 0.94),
		row("student chained, 4 steps", true, 4, 0.92),
		row("student chained + Clockwork, 4 steps", true, 2.5, 0.90),
	}
	got := strings.Join(edits.StudyFindings(rows), "\n")
	for _, want := range []string{
		"The cheapest method within 0.03 of the reference's edit success: student, 4 steps, 16.00× fewer FLOPs",
		"the cheapest chained method within 0.03 of the edit success of three-pass chained, 8 steps (0.940): student chained, 4 steps (0.920), 5.50× fewer FLOPs than it and 8.00× fewer than three-pass, 20 steps",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
	rows[3].Report.Success.Share.Value = 0.85
	if got := strings.Join(edits.StudyFindings(rows[:4]), "\n"); !strings.Contains(got, "no other chained method keeps the edit success of three-pass chained, 8 steps") {
		t.Errorf("no chained method within the tolerance:\n%s", got)
	}
}

// TestStrength checks edits started part-way from their sources
// (Options.Strength): they run int(Steps·Strength) of the steps (the cost
// counts those), differ from edits from noise, do not depend on the batch,
// and with shared noise start each image from its own source.
func TestStrength(t *testing.T) {
	dir, _, set := editorDir(t)
	e, src := loadWithSources(t, dir, set, 3)
	const per = 32 * 32
	o := edits.DefaultOptions()
	o.Steps, o.Seed, o.Batch = 4, 3, 3
	noise, err := e.Edit(src, 3, []string{"make it thicker"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	full, err := e.GFLOPs(o)
	if err != nil {
		t.Fatal(err)
	}
	o.Strength = 0.5
	part, err := e.Edit(src, 3, []string{"make it thicker"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(part, noise) {
		t.Fatal("an edit at strength 0.5 is the edit from noise")
	}
	_, f := e.Model.CostAt(32, 32, e.Text.Tokens()).Total()
	if g, err := e.GFLOPs(o); err != nil || math.Abs((full-g)*1e9-3*2*float64(f)) > 1e-6*full*1e9 {
		t.Fatalf("GFLOPs at strength 0.5 of 4 steps %g (%v), want two steps of three branches fewer than %g", g, err, full)
	}
	o.Batch = 1
	one, err := e.Edit(src, 3, []string{"make it thicker"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(one, part) {
		t.Fatal("an edit at strength 0.5 depends on the batch")
	}
	o.SharedNoise = true
	shared, err := e.Edit(src, 3, []string{"make it thicker"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := e.Edit(src[per:2*per], 1, []string{"make it thicker"}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shared[per:2*per], alone) {
		t.Fatal("with shared noise, image 1 does not start from its own source")
	}
}

// TestFirstClauses checks that the chained training pairs' sources are
// the intermediates a chained edit gives its second clauses, and that
// "edits:chained:FILE" trains on them.
func TestFirstClauses(t *testing.T) {
	dir, _, set := editorDir(t)
	const n, per = 6, 32 * 32
	e, src := loadWithSources(t, dir, set, n)
	o := edits.DefaultOptions()
	o.Steps, o.Seed, o.Batch = 2, 4, 4
	phr := set.Subset(n).Phrases()
	pairs, err := edits.TwoClausePairs(set, n)
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.FirstClauses(set, pairs, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for i, p := range phr {
		if strings.Contains(p, " and ") {
			want = append(want, i)
		}
	}
	if len(want) == 0 || len(want) == n {
		t.Fatalf("the first %d pairs %q: want both kinds of instruction", n, phr)
	}
	if !slices.Equal(pairs, want) || len(first) != len(pairs)*per {
		t.Fatalf("pairs %v (%d values), want the two-clause ones %v", pairs, len(first), want)
	}
	if _, err := e.FirstClauses(set, []int{want[0] + 1000}, o, nil); err == nil {
		t.Fatal("FirstClauses edited a pair outside the set")
	}
	for i, p := range phr {
		if !strings.Contains(p, " and ") {
			if _, err := e.FirstClauses(set, []int{i}, o, nil); err == nil || !strings.Contains(err.Error(), "not a two-clause instruction") {
				t.Fatalf("FirstClauses of a one-clause pair: %v", err)
			}
			break
		}
	}
	// The chained edit of the n pairs is, at each two-clause pair, its
	// second clause's edit of the intermediate (same noise stream).
	oc := o
	oc.Chain = true
	got, err := e.Edit(src, n, phr, oc, nil)
	if err != nil {
		t.Fatal(err)
	}
	mid := append([]float32(nil), src...)
	second := make([]string, n)
	for i := range second {
		second[i] = "make it thicker"
	}
	for k, i := range pairs {
		copy(mid[i*per:(i+1)*per], first[k*per:(k+1)*per])
		c, err := edits.Clauses(phr[i])
		if err != nil {
			t.Fatal(err)
		}
		second[i] = c[1]
	}
	o2 := o
	o2.Seed = edits.ChainSeed(o.Seed, 1)
	out, err := e.Edit(mid, n, second, o2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range pairs {
		if !slices.Equal(out[i*per:(i+1)*per], got[i*per:(i+1)*per]) {
			t.Fatalf("pair %d: the second clause's edit of FirstClauses' output is not the chained edit", i)
		}
	}
	// It runs the U-Net as Edit does: as Base, when set.
	calls := 0
	e.Base = predictFunc(func(x *tensor.Dense, ts float64, c diffusion.Cond) (*tensor.Dense, error) {
		calls++
		return (&diffusion.ModelDenoiser{Model: e.Model}).Predict(x, ts, c)
	})
	again, err := e.FirstClauses(set, pairs[:1], o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || !slices.Equal(again, first[:per]) {
		t.Fatalf("FirstClauses with a Base: %d calls of it, the same edit %v", calls, slices.Equal(again, first[:per]))
	}
}

// predictFunc is a diffusion.Denoiser of a function.
type predictFunc func(x *tensor.Dense, t float64, c diffusion.Cond) (*tensor.Dense, error)

func (f predictFunc) Predict(x *tensor.Dense, t float64, c diffusion.Cond) (*tensor.Dense, error) {
	return f(x, t, c)
}
