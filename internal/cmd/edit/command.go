// Package edit is the edit command, run as `clockwork edit` (cmd/clockwork)
// or `go run ./experiments/edit`; the command's documentation is in
// experiments/edit.
package edit

import (
	"cmp"
	"context"
	"fmt"
	"image"
	"image/color"
	_ "image/png" // -input PNG
	"io"
	"math"
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
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/plots"
)

// DefaultModel is the shipped editor: models/mnist_edit fine-tuned on the
// low-noise timesteps its default edits run (models/mnist_edit_ft/README.md).
const DefaultModel = "models/mnist_edit_ft"

// Run runs the edit command with the arguments after its name, writing to
// stdout and stderr, and returns its exit status.
func Run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	cli.ExitOnSignal() // the work does not stop at a safe point: a signal ends it
	c := cli.New("edit", "edit images by an instruction with an InstructPix2Pix editor, or evaluate it on the held-out edits",
		[]string{`edit -input samples.npz -instruction "make it thicker" -output edited.npz`,
			`edit -input digit.png -instruction "move it to the left and rotate it a little right" -output out.npz`,
			"edit -eval -n 1000 -json runs/edit-eval.json"}, stdout, stderr)
	fs := c.Flags
	o := edits.DefaultOptions()
	model := fs.String("model", DefaultModel, "editor model directory")
	input := fs.String("input", "", "images to edit: an .npz whose images (or samples) are (N, C, H, W) in [−1, 1], or a PNG")
	instruction := fs.String("instruction", "", `the edit, e.g. "make it thicker" or "make it bigger and move it up"`)
	output := fs.String("output", "", "output .npz (images, (N, C, H, W) in [−1, 1]); a PNG strip, sources above edits, is written beside it")
	fs.StringVar(&o.Sampler, "sampler", o.Sampler, "sampler")
	fs.IntVar(&o.Steps, "steps", o.Steps, "sampling steps (an editor's editor_defaults.json sets its own)")
	fs.Float64Var(&o.TextScale, "text-scale", o.TextScale, "guidance scale of the instruction, s_T")
	fs.Float64Var(&o.ImageScale, "image-scale", o.ImageScale, "guidance scale of the source image, s_I")
	fs.Uint64Var(&o.Seed, "seed", 0, "noise seed")
	fs.IntVar(&o.Batch, "batch", o.Batch, "images per batch")
	fs.IntVar(&o.Compose, "compose", 0, "compose an instruction's clauses (cut at \"and\"), each its own guidance branch (composable diffusion): 2 for two-change instructions, one more pass per step")
	fs.BoolVar(&o.Chain, "chain", false, "edit an instruction's clauses (cut at \"and\") one after another, each a whole edit: a two-change instruction costs two edits (an editor's editor_defaults.json can make it the default, with its own steps: chain_steps; -chain=false turns it off)")
	fs.Float64Var(&o.Strength, "strength", 0, "start each edit from its source noised part-way, running the last int(steps·strength) of the steps (SDEdit; diffusers' image-to-image strength): fewer model evaluations; 0 or 1: from pure noise, as InstructPix2Pix does")
	eval := fs.Bool("eval", false, "evaluate on the first -n held-out pairs (test digits, the held-out instructions among them) instead of editing -input")
	n := fs.Int("n", 1000, "with -eval: pairs")
	jsonOut := fs.String("json", "", "with -eval: write the report as JSON here")
	strip := fs.String("strip", "", "with -eval: write a PNG of the first 16 pairs (sources, true edits, edits) here")
	seeds := fs.Int("seeds", 1, "with -eval: evaluate with this many noise seeds, -seed and the ones after it, and report each seed's figures and in how many seeds each pair failed (the table is the first seed's)")
	failures := fs.String("failures", "", "with -eval: write a PNG of the first 32 pairs whose edit was not made or not preserved (source, true edit, edit side by side) here")
	sweep := fs.String("sweep", "", "evaluate the first -n held-out pairs over a grid of guidance scales and write the table, JSON and figure into this directory")
	sweepImage := fs.String("sweep-image", "1,1.5,2,3", "with -sweep: the image scales s_I")
	sweepText := fs.String("sweep-text", "2,4,7.5,10,14", "with -sweep: the text scales s_T")
	split := fs.String("split", "test", "with -sweep, -eval or -study: the pairs, test (held out), val (MNIST's training digits, other pairs: where scales are chosen) or train (the training pairs themselves: whether the editor is limited by what it learned or by how it generalises)")
	student := fs.String("student", "", "with -sweep or -study: a guidance-distilled student of -model")
	study := fs.String("study", "", "the savings study: edit the first -n pairs of -split (held out by default) with -model at -steps (the reference) and -fewer steps, the -student at -student-steps, each with Clockwork where -adaptor / -student-adaptor is given, and editing clauses in turn at -chain-steps / -student-chain-steps; write the table, JSON, figure and strips into this directory")
	fewer := fs.String("fewer", "8", "with -study: the three-pass editor's other step counts")
	studentSteps := fs.String("student-steps", "20,8", "with -study: the student's step counts")
	adaptor := fs.String("adaptor", "", "Clockwork on -model: identity, or a distilled adaptor's directory, run at the steps and start (from noise, or from the source at a strength) it was distilled for; with -study a comma-separated list, each run at its own steps (identity: at each of -fewer)")
	studentAdaptor := fs.String("student-adaptor", "", "with -study: Clockwork adaptors of -student, comma-separated, each run at its own steps (identity: at each of -student-steps)")
	chainSteps := fs.String("chain-steps", "", "with -study: also the three-pass editor editing each instruction's clauses in turn (-chain), at each of these step counts per clause, and with -adaptor at its own steps (identity: at each of these)")
	studentChainSteps := fs.String("student-chain-steps", "", "with -study: also the student editing clauses in turn, at each of these step counts per clause, and with -student-adaptor likewise")
	rounds := fs.Int("rounds", 5, "with -study: paired timing rounds against the reference (0: none)")
	timeBatch := fs.Int("time-batch", 16, "with -study: edits per timed round")
	chainData := fs.String("chain-data", "", "write to this .npz the editor's edits, at its chained defaults, by the first clause of every two-change instruction among the first -n training pairs: sources for its second clauses as a chained edit gives them (train on them with -data edits:chained:FILE)")
	if code, ok := c.Parse(args, false); !ok {
		return code
	}
	if err := o.Check(); err != nil {
		return c.Usage("%v", err)
	}
	if _, err := os.Stat(*model); err != nil && *model == DefaultModel {
		return c.Fail(fmt.Errorf("-model: no editor is shipped in %s yet; train one with `train -init models/mnist_text -data edits -out runs/edit` and give -model runs/edit/model", DefaultModel))
	}
	if *study != "" && c.Given("strength") {
		return c.Usage("-study runs the reference from noise: give a strength per step count instead (-fewer 8@0.5, -chain-steps 8@0.5)")
	}
	if (o.Compose > 1 && (*sweep != "" || *study != "")) || (o.Chain && *study != "") {
		return c.Usage("-compose goes with -eval or one edit (-input, -instruction), -chain with those and -sweep: -study runs each editor one edit per instruction, and clauses in turn at -chain-steps and -student-chain-steps")
	}
	if *chainData != "" {
		if *eval || *sweep != "" || *study != "" || *input != "" || *output != "" || *adaptor != "" {
			return c.Usage("-chain-data edits training pairs: -eval, -sweep, -study, -input, -output and -adaptor go without it")
		}
		if *n <= 0 {
			return c.Usage("-n %d: want a positive number of pairs", *n)
		}
		if code, ok := only(c, "-chain-data", "chain-data", "n"); !ok {
			return code
		}
		return writeChainData(c, *model, o, *n, *chainData, given(c), c.Given("strength"))
	}
	if *sweep != "" {
		if *eval || *input != "" || *output != "" || *adaptor != "" || *studentAdaptor != "" || *chainSteps != "" || *studentChainSteps != "" {
			return c.Usage("-sweep evaluates held-out pairs: -eval, -input, -output, -adaptor, -student-adaptor, -chain-steps and -student-chain-steps go without it")
		}
		is, err1 := parseList(*sweepImage)
		ts, err2 := parseList(*sweepText)
		if err1 != nil || err2 != nil {
			return c.Usage("-sweep-image %q, -sweep-text %q: want comma-separated finite scales ≥ 0", *sweepImage, *sweepText)
		}
		if *n <= 0 {
			return c.Usage("-n %d: want a positive number of pairs", *n)
		}
		if !validSplit(*split) {
			return c.Usage("-split %q: want test, val or train", *split)
		}
		if code, ok := only(c, "-sweep", "sweep", "sweep-image", "sweep-text", "split", "n", "student"); !ok {
			return code
		}
		return runSweep(c, *model, *student, o, *n, is, ts, *sweep, *split)
	}
	if *study != "" {
		if *eval || *input != "" || *output != "" {
			return c.Usage("-study evaluates held-out pairs: -eval, -input and -output go without it")
		}
		if *n <= 0 || *rounds < 0 || *timeBatch <= 0 {
			return c.Usage("-n %d, -rounds %d, -time-batch %d: want positive counts", *n, *rounds, *timeBatch)
		}
		if !validSplit(*split) {
			return c.Usage("-split %q: want test, val or train", *split)
		}
		fs, err1 := parseSteps(*fewer)
		ss, err2 := parseSteps(*studentSteps)
		cs, err3 := parseSteps(*chainSteps)
		scs, err4 := parseSteps(*studentChainSteps)
		if err := cmp.Or(err1, err2, err3, err4); err != nil {
			return c.Usage("-fewer %q, -student-steps %q, -chain-steps %q, -student-chain-steps %q: want comma-separated positive step counts, each optionally with a strength in (0, 1) (8@0.5): %v", *fewer, *studentSteps, *chainSteps, *studentChainSteps, err)
		}
		if code, ok := only(c, "-study", "study", "n", "split", "student", "fewer", "student-steps", "adaptor", "student-adaptor", "chain-steps", "student-chain-steps", "rounds", "time-batch"); !ok {
			return code
		}
		return runStudy(c, studyConfig{given: given(c), model: *model, student: *student, adaptor: *adaptor, studentAdaptor: *studentAdaptor, o: o, fewer: fs, studentSteps: ss, chainSteps: cs, studentChainSteps: scs,
			setup: edits.StudySetup{N: *n, Batch: o.Batch, Seed: o.Seed, TimeBatch: *timeBatch, Rounds: *rounds, Reps: 1000}, dir: *study, split: *split})
	}
	if *student != "" || *studentAdaptor != "" || *chainSteps != "" || *studentChainSteps != "" {
		return c.Usage("-student goes with -sweep or -study; -student-adaptor, -chain-steps and -student-chain-steps with -study")
	}
	if strings.Contains(*adaptor, ",") {
		return c.Usage("-adaptor %s: a list of adaptors goes with -study; -eval and an edit run one", *adaptor)
	}
	if *adaptor != "" && o.Compose > 1 {
		return c.Usage("-adaptor with -compose: Clockwork runs the editor's two-scale guidance, not composed clauses")
	}
	if *eval {
		if *input != "" || *instruction != "" || *output != "" {
			return c.Usage("-eval edits the held-out pairs: -input, -instruction and -output go without it")
		}
		if *n <= 0 || *seeds <= 0 {
			return c.Usage("-n %d, -seeds %d: want positive numbers of pairs and seeds", *n, *seeds)
		}
		if err := cli.CheckOutFiles("-json", *jsonOut, "-strip", *strip, "-failures", *failures); err != nil {
			return c.Fail(err)
		}
		if !validSplit(*split) {
			return c.Usage("-split %q: want test, val or train", *split)
		}
		if code, ok := only(c, "-eval", "eval", "n", "json", "strip", "seeds", "failures", "split", "adaptor"); !ok {
			return code
		}
		return evaluate(c, *model, *adaptor, o, *n, *seeds, evalOut{json: *jsonOut, strip: *strip, failures: *failures}, *split, given(c), c.Given("chain"), c.Given("strength"))
	}
	if *seeds != 1 {
		return c.Usage("-seeds goes with -eval")
	}
	if code, ok := only(c, "an edit (-input)", "input", "instruction", "output", "adaptor"); !ok {
		return code
	}
	if *input == "" || *instruction == "" || *output == "" {
		return c.Usage("give -input, -instruction and -output (or -eval)")
	}
	if filepath.Ext(*output) != ".npz" {
		return c.Usage("-output %s: want an .npz file", *output)
	}
	png := strings.TrimSuffix(*output, ".npz") + ".png"
	if err := cli.CheckOutFiles("-output", *output, "-output's strip", png); err != nil {
		return c.Fail(err)
	}
	e, err := edits.LoadEditor(*model)
	if err != nil {
		return c.Fail(err)
	}
	e.Defaults.Apply(&o, !c.Given("text-scale"), !c.Given("image-scale"), !c.Given("steps"))
	e.Defaults.ApplyChain(&o, c.Given("chain"), c.Given("steps"), c.Given("strength"))
	if err := e.CheckInstruction(*instruction, o); err != nil {
		return c.Fail(fmt.Errorf("-instruction: %w", err))
	}
	cw, err := clockwork(e, *adaptor, o)
	if err != nil {
		return c.Fail(err)
	}
	src, k, err := readInput(*input, e.Shape)
	if err != nil {
		return c.Fail(err)
	}
	if err := e.CheckImages("-input "+*input, src, k); err != nil {
		return c.Fail(err)
	}
	prog := cli.NewProgress(stderr, k, "edit")
	start := time.Now()
	out, err := e.Edit(src, k, []string{*instruction}, o, func(done int) { prog.Set(done, "") })
	prog.Finish()
	if err != nil {
		return c.Fail(err)
	}
	shape := append([]int{k}, e.Shape...)
	if err := npzio.Write(*output, []string{"images"}, map[string]npzio.Array{"images": npzio.Float32(out, shape...)}); err != nil {
		return c.Fail(err)
	}
	both := append(append([]float32(nil), src...), out...)
	if err := plots.SaveGridPNG(png, both, 2*k, e.Shape[0], e.Shape[1], e.Shape[2], k, 2); err != nil {
		return c.Fail(err)
	}
	how := chained(o, ", clauses chained") + fromSource(o) + cw
	c.Printf("%d images edited (%q; %s, %d steps, s_T %g, s_I %g%s) in %s; wrote %s and %s\n", k, *instruction, o.Sampler, o.Steps, o.TextScale, o.ImageScale, how,
		time.Since(start).Round(time.Millisecond), *output, png)
	return 0
}

// readInput reads the images to edit: an .npz's images (or samples), or a
// PNG converted to [−1, 1] (gray for one channel), checked against the
// editor's shape.
func readInput(path string, shape []int) ([]float32, int, error) {
	per := shape[0] * shape[1] * shape[2]
	if strings.EqualFold(filepath.Ext(path), ".png") {
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, fmt.Errorf("-input: %w", err)
		}
		defer f.Close()
		img, _, err := image.Decode(f)
		if err != nil {
			return nil, 0, fmt.Errorf("-input %s: %w", path, err)
		}
		b := img.Bounds()
		if b.Dx() != shape[2] || b.Dy() != shape[1] {
			return nil, 0, fmt.Errorf("-input %s is %d×%d pixels; the editor edits %d×%d images", path, b.Dx(), b.Dy(), shape[2], shape[1])
		}
		if shape[0] != 1 && shape[0] != 3 {
			return nil, 0, fmt.Errorf("-input %s: a PNG gives 1 or 3 channels; the editor edits %d", path, shape[0])
		}
		out := make([]float32, per)
		hw := shape[1] * shape[2]
		for y := 0; y < shape[1]; y++ {
			for x := 0; x < shape[2]; x++ {
				px := img.At(b.Min.X+x, b.Min.Y+y)
				if shape[0] == 1 {
					g := color.GrayModel.Convert(px).(color.Gray)
					out[y*shape[2]+x] = float32(g.Y)/127.5 - 1
					continue
				}
				r, g, bl, _ := px.RGBA()
				for ch, v := range []uint32{r, g, bl} {
					out[ch*hw+y*shape[2]+x] = float32(v>>8)/127.5 - 1
				}
			}
		}
		return out, 1, nil
	}
	arrays, err := npzio.Read(path)
	if err != nil {
		return nil, 0, fmt.Errorf("-input: %w", err)
	}
	key := "images"
	a, ok := arrays[key]
	if !ok {
		key = "samples"
		if a, ok = arrays[key]; !ok {
			return nil, 0, fmt.Errorf("-input %s has no array images (or samples)", path)
		}
	}
	s := a.Shape
	if len(s) != 4 || s[1] != shape[0] || s[2] != shape[1] || s[3] != shape[2] || s[0] <= 0 {
		return nil, 0, fmt.Errorf("-input %s: %s has shape %v; the editor edits (N, %d, %d, %d)", path, key, s, shape[0], shape[1], shape[2])
	}
	v := a.Floats()
	if v == nil {
		return nil, 0, fmt.Errorf("-input %s: %s is %s, not floating point", path, key, a.Dtype())
	}
	return v, s[0], nil
}

// parseList reads comma-separated scales.
func parseList(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("scale %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// runSweep runs -sweep.
func runSweep(c *cli.Command, model, student string, o edits.Options, n int, is, ts []float64, dir, split string) int {
	load := edits.LoadEditor
	if student != "" {
		load = edits.LoadThreePass
	}
	e, err := load(model)
	if err != nil {
		return c.Fail(err)
	}
	editors := []*edits.Editor{e}
	names := []string{"three-pass"}
	if e.Student != nil {
		names[0] = "guidance-distilled"
	}
	if student != "" {
		s, err := edits.LoadStudent(student)
		if err == nil {
			err = s.CheckTeacher(e)
		}
		if err != nil {
			return c.Fail(err)
		}
		editors, names = append(editors, s), append(names, "guidance-distilled")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c.Fail(err)
	}
	m, err := captions.DefaultMeasurer()
	if err != nil {
		return c.Fail(err)
	}
	set, err := edits.OpenSplit(split, n)
	if err != nil {
		return c.Fail(err)
	}
	total := len(editors) * len(is) * len(ts)
	prog := cli.NewProgress(c.Stderr, total, "sweep")
	sweeps := map[string][]edits.SweepCell{}
	start := time.Now()
	for k, ed := range editors {
		cells, err := edits.Sweep(ed, m, set, n, is, ts, o, 1000, func(done, _ int) { prog.Set(k*len(is)*len(ts)+done, names[k]) })
		if err != nil {
			prog.Finish()
			return c.Fail(err)
		}
		sweeps[names[k]] = cells
	}
	prog.Finish()
	var md strings.Builder
	paths := []string{model, student}
	how := chained(o, " per clause, clauses chained") + fromSource(o)
	for k, name := range names {
		fmt.Fprintf(&md, "%s (%s), %d %s pairs, %s %d steps%s, seed %d:\n\n", name, paths[k], n, split, o.Sampler, o.Steps, how, o.Seed)
		edits.WriteSweepTable(&md, sweeps[name])
		md.WriteString("\n")
	}
	if err := fsutil.WriteAtomic(filepath.Join(dir, "sweep.md"), func(w io.Writer) error { _, err := io.WriteString(w, md.String()); return err }); err != nil {
		return c.Fail(err)
	}
	if err := c.WriteStamped(filepath.Join(dir, "sweep.json"), map[string]any{"model": model, "student": student, "split": split, "pairs": n, "options": o, "sweeps": sweeps}); err != nil {
		return c.Fail(err)
	}
	p, err := edits.SweepPlot("Edit success against preservation over the guidance scales", sweeps, names)
	if err != nil {
		return c.Fail(err)
	}
	png, err := plots.SaveBoth(dir, "sweep", func(path string) error { return plots.Save(p, path, 6*vg.Inch, 4.5*vg.Inch) })
	if err != nil {
		return c.Fail(err)
	}
	c.Printf("%s", md.String())
	c.Printf("sweep of %d cells in %s; wrote %s\n", total, time.Since(start).Round(time.Second), strings.Join([]string{filepath.Join(dir, "sweep.md"), filepath.Join(dir, "sweep.json"), filepath.Join(dir, png)}, ", "))
	return 0
}

// chained returns note when o chains clauses, else "".
func chained(o edits.Options, note string) string {
	if o.Chain {
		return note
	}
	return ""
}

// fromSource returns how o starts an edit part-way (Options.Strength), or
// "" when it starts from noise.
func fromSource(o edits.Options) string {
	k, err := diffusion.StepsFrom(o.Steps, o.Strength)
	if err != nil || k == o.Steps {
		return ""
	}
	return fmt.Sprintf(", from the source at strength %g (the last %d of the %d steps)", o.Strength, k, o.Steps)
}

// editing are the flags of how an edit runs, which every mode takes.
var editing = []string{"model", "sampler", "steps", "text-scale", "image-scale", "seed", "batch", "compose", "chain", "strength"}

// only refuses the flags given that are neither editing's nor among the
// mode's own names: such a flag would do nothing there, and is a usage
// error rather than silently ignored. ok is false with the exit code when
// it refuses.
func only(c *cli.Command, mode string, names ...string) (code int, ok bool) {
	return c.Only(mode, append(slices.Clone(editing), names...)...)
}

// clockwork puts Clockwork with the adaptor (identity, or a distilled
// adaptor's directory: at its own clock, and only at the steps and start
// it was distilled for) under the editor for edits under o, and describes
// it for the command's report ("" for no adaptor).
func clockwork(e *edits.Editor, adaptor string, o edits.Options) (string, error) {
	if adaptor == "" {
		return "", nil
	}
	cw, man, err := distill.OpenFrom(e.Model, adaptor, 1, o.Sampler, o.Steps, o.Strength, "", false)
	if err != nil {
		return "", fmt.Errorf("-adaptor: %w", err)
	}
	e.Base = cw
	return fmt.Sprintf(", Clockwork: the %s adaptor %s at steps %s", man.Adaptor.Kind, adaptor, cw.Clock), nil
}

// given reports which of -text-scale, -image-scale and -steps the user
// gave (the others take an editor's defaults, edits.DefaultsFile).
func given(c *cli.Command) [3]bool {
	return [3]bool{c.Given("text-scale"), c.Given("image-scale"), c.Given("steps")}
}
