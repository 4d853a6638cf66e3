package edit

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/texttest"
	"github.com/clockwork-go/clockwork/textenc"
)

// tinyEditor writes an untrained editor: the test text model widened to
// take the source image, its encoder extended to the instructions' words.
func tinyEditor(t *testing.T) string { return texttest.EditorDir(t) }

func run(args ...string) (int, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

func TestEditCommand(t *testing.T) {
	dir := tinyEditor(t)
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in.npz")
	imgs := make([]float32, 2*32*32)
	for i := range imgs {
		imgs[i] = -1
	}
	if err := npzio.Write(in, []string{"samples"}, map[string]npzio.Array{"samples": npzio.Float32(imgs, 2, 1, 32, 32)}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out.npz")
	if code, msg := run("-model", dir, "-input", in, "-instruction", "make it thicker", "-output", out, "-steps", "2"); code != 0 {
		t.Fatalf("edit: %d %s", code, msg)
	}
	a, err := npzio.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if s := a["images"].Shape; len(s) != 4 || s[0] != 2 || s[1] != 1 || s[2] != 32 {
		t.Fatalf("images of shape %v", s)
	}
	if _, err := os.Stat(filepath.Join(tmp, "out.png")); err != nil {
		t.Fatal(err)
	}
	// An editor's defaults file sets the scales and steps not given.
	if err := os.WriteFile(filepath.Join(dir, edits.DefaultsFile), []byte(`{"text_scale": 3, "image_scale": 1.25, "steps": 2, "chosen_by": "a test"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, msg := run("-model", dir, "-input", in, "-instruction", "make it thicker", "-output", out, "-image-scale", "2"); code != 0 || !strings.Contains(msg, "2 steps, s_T 3, s_I 2)") {
		t.Fatalf("defaults: %d %s", code, msg)
	}
	// chain_steps: the command chains clauses at those steps unless told
	// not to (then the whole instruction at the plain steps).
	if err := os.WriteFile(filepath.Join(dir, edits.DefaultsFile), []byte(`{"text_scale": 3, "image_scale": 1.25, "steps": 2, "chain_steps": 1, "chosen_by": "a test"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, msg := run("-model", dir, "-input", in, "-instruction", "make it thicker and move it up", "-output", out); code != 0 || !strings.Contains(msg, "1 steps, s_T 3, s_I 1.25, clauses chained)") {
		t.Fatalf("chained by default: %d %s", code, msg)
	}
	// chain_strength: chained clauses start from their sources part-way,
	// unless steps are given (they run from noise) or a strength is.
	if err := os.WriteFile(filepath.Join(dir, edits.DefaultsFile), []byte(`{"text_scale": 3, "image_scale": 1.25, "steps": 2, "chain_steps": 3, "chain_strength": 0.67, "chosen_by": "a test"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "3 steps, s_T 3, s_I 1.25, clauses chained, from the source at strength 0.67 (the last 2 of the 3 steps))"},
		{[]string{"-steps", "3"}, "3 steps, s_T 3, s_I 1.25, clauses chained)"},
		{[]string{"-strength", "0.5"}, "3 steps, s_T 3, s_I 1.25, clauses chained, from the source at strength 0.5 (the last 1 of the 3 steps))"},
		{[]string{"-chain=false"}, "2 steps, s_T 3, s_I 1.25)"},
	} {
		args := append([]string{"-model", dir, "-input", in, "-instruction", "make it thicker and move it up", "-output", out}, c.args...)
		if code, msg := run(args...); code != 0 || !strings.Contains(msg, c.want) {
			t.Fatalf("chain_strength, %v: %d %s", c.args, code, msg)
		}
	}
	os.WriteFile(filepath.Join(dir, edits.DefaultsFile), []byte(`{"text_scale": 3, "chain_steps": 3, "chain_strength": 0.2}`), 0o644)
	if code, msg := run("-model", dir, "-input", in, "-instruction", "make it thicker", "-output", out); code == 0 || !strings.Contains(msg, "chain_strength 0.2") {
		t.Fatalf("a chain_strength that keeps no step: %d %s", code, msg)
	}
	if err := os.WriteFile(filepath.Join(dir, edits.DefaultsFile), []byte(`{"text_scale": 3, "image_scale": 1.25, "steps": 2, "chain_steps": 1, "chosen_by": "a test"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Chained, each clause is read alone: three changes in more words
	// than the encoder reads at once.
	long := "make it thicker and move it to the right and rotate it a little left"
	if code, msg := run("-model", dir, "-input", in, "-instruction", long, "-output", out, "-chain=false"); code == 0 || !strings.Contains(msg, "-instruction") {
		t.Fatalf("%d words in one edit: %d %s", len(strings.Fields(long)), code, msg)
	}
	if code, msg := run("-model", dir, "-input", in, "-instruction", long, "-output", out); code != 0 {
		t.Fatalf("three chained clauses: %d %s", code, msg)
	}
	if code, msg := run("-model", dir, "-input", in, "-instruction", "make it thicker and move it up", "-output", out, "-chain=false"); code != 0 || !strings.Contains(msg, "2 steps, s_T 3, s_I 1.25)") {
		t.Fatalf("-chain=false: %d %s", code, msg)
	}
	if code, msg := run("-model", dir, "-input", in, "-instruction", "make it thicker and move it up", "-output", out, "-compose", "2"); code != 0 || !strings.Contains(msg, "2 steps, s_T 3, s_I 1.25)") {
		t.Fatalf("-compose on an editor that chains by default: %d %s", code, msg)
	}
	os.WriteFile(filepath.Join(dir, edits.DefaultsFile), []byte(`{"text_scale": 3, "chain_steps": -1}`), 0o644)
	if code, msg := run("-model", dir, "-input", in, "-instruction", "make it thicker", "-output", out); code == 0 || !strings.Contains(msg, "chain_steps -1") {
		t.Fatalf("negative chain_steps: %d %s", code, msg)
	}
	os.WriteFile(filepath.Join(dir, edits.DefaultsFile), []byte(`{"text_scale": -3}`), 0o644)
	if code, msg := run("-model", dir, "-input", in, "-instruction", "make it thicker", "-output", out); code == 0 || !strings.Contains(msg, edits.DefaultsFile) {
		t.Fatalf("a bad defaults file: %d %s", code, msg)
	}
	os.Remove(filepath.Join(dir, edits.DefaultsFile))
	// A PNG of the right size is read as one image.
	pngPath := filepath.Join(tmp, "digit.png")
	writePNG(t, pngPath, 32)
	if code, msg := run("-model", dir, "-input", pngPath, "-instruction", "move it up", "-output", filepath.Join(tmp, "p.npz"), "-steps", "1"); code != 0 {
		t.Fatalf("edit of a PNG: %d %s", code, msg)
	}
	// The training pairs can be evaluated too (is the editor limited by
	// what it learned or by how it generalises?).
	// -failures draws the pairs that failed (an untrained editor fails
	// them all) and the report says how they failed.
	fails := filepath.Join(tmp, "fails.png")
	code, msg := run("-model", dir, "-eval", "-split", "train", "-n", "3", "-steps", "1", "-failures", fails)
	if code != 0 || !strings.Contains(msg, "on 3 training pairs") || !strings.Contains(msg, "edits not made") || !strings.Contains(msg, "PSNR to the true edit, median") {
		t.Fatalf("-eval -split train: %d %s", code, msg)
	}
	if strings.Contains(msg, "not written") {
		t.Fatalf("an untrained editor failed no pair: %s", msg)
	}
	f, err := os.Open(fails)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Width < 3*32 || cfg.Height < 32 {
		t.Fatalf("-failures wrote %+v, %v", cfg, err)
	}
	if code, msg := run("-model", dir, "-eval", "-split", "train", "-n", "3", "-steps", "1", "-failures", tmp); code == 0 || !strings.Contains(msg, "-failures") {
		t.Fatalf("-failures naming a directory: %d %s", code, msg)
	}
	// -seeds evaluates again with the next seeds: each seed's figures,
	// and in how many seeds each pair failed, in the text and the JSON.
	js := filepath.Join(tmp, "seeds.json")
	code, msg = run("-model", dir, "-eval", "-split", "train", "-n", "3", "-steps", "1", "-seeds", "2", "-seed", "5", "-json", js)
	if code != 0 || !strings.Contains(msg, "Over 2 seeds (5 to 6): edit success") || !strings.Contains(msg, "pairs not preserved: in no seed") {
		t.Fatalf("-seeds 2: %d %s", code, msg)
	}
	var rep struct {
		Seeds []struct {
			Seed uint64 `json:"seed"`
		} `json:"seeds"`
		Agree struct {
			Seeds        int   `json:"seeds"`
			NotPreserved []int `json:"not_preserved_in"`
		} `json:"failures_over_seeds"`
	}
	if b, err := os.ReadFile(js); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("-seeds -json: %v", err)
	}
	if len(rep.Seeds) != 2 || rep.Seeds[0].Seed != 5 || rep.Seeds[1].Seed != 6 || rep.Agree.Seeds != 2 || len(rep.Agree.NotPreserved) != 3 {
		t.Fatalf("-seeds -json: %+v", rep)
	}
	if got := rep.Agree.NotPreserved[0] + rep.Agree.NotPreserved[1] + rep.Agree.NotPreserved[2]; got != 3 {
		t.Fatalf("-seeds -json counts %d pairs, want 3", got)
	}
	for _, bad := range [][]string{{"-eval", "-seeds", "0"}, {"-input", "x.npz", "-instruction", "move it up", "-output", "y.npz", "-seeds", "2"}} {
		if code, msg := run(append([]string{"-model", dir}, bad...)...); code != 2 || !strings.Contains(msg, "-seeds") {
			t.Fatalf("%v: %d %s", bad, code, msg)
		}
	}
	if code, msg := run("-model", dir, "-eval", "-split", "holdout"); code == 0 || !strings.Contains(msg, "want test, val or train") {
		t.Fatalf("-eval -split holdout: %d %s", code, msg)
	}
	// Bad input: a clear error, nothing written.
	big := filepath.Join(tmp, "big.png")
	writePNG(t, big, 28)
	wrongC := filepath.Join(tmp, "rgb.npz")
	if err := npzio.Write(wrongC, []string{"images"}, map[string]npzio.Array{"images": npzio.Float32(make([]float32, 3*32*32), 1, 3, 32, 32)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-input", big, "-instruction", "make it thicker"}, "28×28 pixels"},
		{[]string{"-input", wrongC, "-instruction", "make it thicker"}, "shape [1 3 32 32]"},
		{[]string{"-input", in, "-instruction", "make it purple"}, `"purple"`},
		{[]string{"-input", in, "-instruction", "make it thicker", "-text-scale", "NaN"}, "text guidance scale NaN"},
		{[]string{"-input", in, "-instruction", "make it thicker", "-image-scale", "-2"}, "image guidance scale -2"},
		{[]string{"-input", in, "-instruction", "make it thicker", "-strength", "NaN"}, "strength NaN"},
		{[]string{"-input", in, "-instruction", "make it thicker", "-strength", "1.5"}, "strength 1.5"},
		{[]string{"-input", in, "-instruction", "make it thicker and move it up and move it up", "-compose", "2"}, "more than the 2 clauses"},
		{[]string{"-sweep", filepath.Join(tmp, "sw"), "-compose", "2"}, "-compose goes with"},
		{[]string{"-study", filepath.Join(tmp, "st"), "-chain"}, "-study runs each editor one edit"},
		{[]string{"-input", in, "-instruction", "make it thicker", "-chain-steps", "2"}, "-chain-steps and -student-chain-steps with -study"},
		{[]string{"-input", in, "-instruction", "and make it thicker", "-chain"}, "empty clause"},
		{[]string{"-model", texttest.Dir(t, 16, 16), "-input", in, "-instruction", "make it thicker"}, "text-to-image"},
	} {
		bad := filepath.Join(tmp, "bad.npz")
		args := append([]string{"-model", dir, "-output", bad}, c.args...)
		code, msg := run(args...)
		if code == 0 || !strings.Contains(msg, c.want) {
			t.Fatalf("%v: exit %d, %q; want an error containing %q", c.args, code, msg, c.want)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Fatalf("%v: an output was written", c.args)
		}
	}
}

func writePNG(t *testing.T, path string, side int) {
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestEditSweep(t *testing.T) {
	dir := tinyEditor(t)
	out := filepath.Join(t.TempDir(), "sweep")
	code, msg := run("-model", dir, "-sweep", out, "-n", "4", "-steps", "2", "-sweep-image", "1,2", "-sweep-text", "3,7.5")
	if code != 0 {
		t.Fatalf("sweep: %d %s", code, msg)
	}
	for _, f := range []string{"sweep.md", "sweep.json", "sweep.png", "sweep.pdf"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(msg, "| 2 | 7.5 |") {
		t.Fatalf("the table lacks the cell s_I 2, s_T 7.5:\n%s", msg)
	}
	if code, msg := run("-model", dir, "-sweep", filepath.Join(t.TempDir(), "chained"), "-chain", "-n", "2", "-steps", "1", "-sweep-image", "1", "-sweep-text", "3"); code != 0 || !strings.Contains(msg, "1 steps per clause, clauses chained") {
		t.Fatalf("a chained sweep: %d %s", code, msg)
	}
	if code, msg := run("-model", dir, "-sweep", out, "-sweep-text", "NaN"); code == 0 || !strings.Contains(msg, "-sweep-text") {
		t.Fatalf("a NaN scale in the sweep: %d %s", code, msg)
	}
	if code, msg := run("-model", dir, "-sweep", out, "-student", dir); code == 0 || !strings.Contains(msg, "not a guidance-distilled student") {
		t.Fatalf("a three-pass editor as -student: %d %s", code, msg)
	}
}

// tinyStudent writes an untrained guidance-distilled student of the
// editor in dir.
func tinyStudent(t *testing.T, dir string) string {
	e, err := edits.LoadEditor(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Model.AddClassProjection(2*e.Model.Config.BlockOutChannels[0], 3)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "student")
	if err := s.Save(out); err != nil {
		t.Fatal(err)
	}
	if err := diffusion.SaveScheduleConfig(out, diffusion.DefaultScheduleConfig()); err != nil {
		t.Fatal(err)
	}
	if err := e.Text.Save(textenc.ModelDir(out)); err != nil {
		t.Fatal(err)
	}
	info := `{"teacher": "` + dir + `", "teacher_fingerprint": "` + e.Model.Fingerprint() + `", "text_scale": [2, 14], "image_scale": [1, 3], "multiplier": 100, "class_labels": "x"}`
	if err := os.WriteFile(filepath.Join(out, diffusion.GuidanceFile), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// distilFromSource distils a tiny adaptor of the editor in dir for edits from
// the source, the last 2 of 4 steps, and returns its directory.
func distilFromSource(t *testing.T, dir string) string {
	t.Helper()
	e, err := edits.LoadEditor(dir)
	if err != nil {
		t.Fatal(err)
	}
	set := texttest.Pairs(t, 8)
	c := distill.DefaultConfig()
	c.Adaptor = distill.AdaptorConfig{Kind: "resnet", Width: 8, Depth: 1, Steps: 4}
	c.Strength = 0.5
	c.Epochs, c.Trajectories, c.Validation, c.Batch = 1, 4, 2, 4
	out := filepath.Join(t.TempDir(), "from-source")
	d, err := distill.NewDistiller(out, e.Model, dir, e.Noise, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.UseEdits(e.Text, set.Phrases(), set.Data.Inputs, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEditStudy(t *testing.T) {
	dir := tinyEditor(t)
	student := tinyStudent(t, dir)
	src := distilFromSource(t, dir)
	out := filepath.Join(t.TempDir(), "study")
	code, msg := run("-model", dir, "-student", student, "-study", out, "-n", "4", "-steps", "4", "-fewer", "2", "-student-steps", "4,2",
		"-adaptor", "identity,"+src, "-student-adaptor", "identity", "-rounds", "1", "-time-batch", "2", "-chain-steps", "2,4@0.5", "-student-chain-steps", "2")
	if code != 0 {
		t.Fatalf("study: %d %s", code, msg)
	}
	for _, want := range []string{"| three-pass, 4 steps | 4 |", "| guidance-distilled, 4 steps | 4 |", "three-pass + Clockwork, 2 steps", "guidance-distilled + Clockwork, 4 steps", "The cheapest method",
		"| three-pass chained, 2 steps | 2 per clause |", "| three-pass chained + Clockwork, 2 steps | 2 per clause |", "| guidance-distilled chained + Clockwork, 2 steps | 2 per clause |", "Clauses in turn:",
		"| three-pass chained, 2 of 4 steps from the source (strength 0.5) | 2 of 4 per clause |",
		"| three-pass chained + Clockwork, 2 of 4 steps from the source (strength 0.5) | 2 of 4 per clause |",
		// The distilled adaptor at the same steps as identity: named apart.
		"| three-pass chained + Clockwork (from-source), 2 of 4 steps from the source (strength 0.5) | 2 of 4 per clause |",
		"| three-pass + Clockwork, 2 of 4 steps from the source (strength 0.5) | 2 of 4 |"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("the study lacks %q:\n%s", want, msg)
		}
	}
	// The student at the reference's steps costs a third of it (the text
	// encoder's share aside).
	b, err := os.ReadFile(filepath.Join(out, "study.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Rows []edits.StudyRow `json:"rows"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var three, one, chain2, from4, cwFrom4 float64
	for _, r := range rep.Rows {
		switch r.Name {
		case "three-pass, 4 steps":
			three = r.GFLOPs
		case "guidance-distilled, 4 steps":
			one = r.GFLOPs
		case "three-pass chained, 2 steps":
			chain2 = r.GFLOPs
		case "three-pass chained, 2 of 4 steps from the source (strength 0.5)":
			from4 = r.GFLOPs
			if r.Strength != 0.5 || r.Run != 2 || r.Steps != 4 {
				t.Fatalf("the row from the source: strength %g, %d of %d steps run", r.Strength, r.Run, r.Steps)
			}
		case "three-pass chained + Clockwork, 2 of 4 steps from the source (strength 0.5)":
			cwFrom4 = r.GFLOPs
			if r.Strength != 0.5 || r.Run != 2 {
				t.Fatalf("Clockwork from the source: strength %g, %d steps run", r.Strength, r.Run)
			}
		}
	}
	if r := three / one; r < 2.9 || r > 3 {
		t.Fatalf("the student saves %.3f× the FLOPs at the same steps, want about 3", r)
	}
	// Two of four steps from the source cost what two steps from noise do.
	if chain2 == 0 || from4 != chain2 {
		t.Fatalf("chained, 2 of 4 steps from the source cost %g GFLOPs, 2 steps %g", from4, chain2)
	}
	// Clockwork from the source: its clock covers the 2 steps run, the
	// second on the adaptor.
	if !(cwFrom4 > 0 && cwFrom4 < from4) {
		t.Fatalf("chained from the source with Clockwork: %g GFLOPs, without %g", cwFrom4, from4)
	}
	for _, f := range []string{"study.md", "study_pareto.png", "study_strips.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	// On the validation pairs (where adaptors and clocks are chosen).
	val := filepath.Join(t.TempDir(), "val")
	if code, msg := run("-model", dir, "-study", val, "-split", "val", "-n", "2", "-steps", "2", "-fewer", "", "-rounds", "0"); code != 0 || !strings.Contains(msg, "2 validation pairs") {
		t.Fatalf("a study of validation pairs: %d %s", code, msg)
	}
	if code, msg := run("-model", dir, "-study", val, "-split", "dev", "-n", "2"); code != 2 || !strings.Contains(msg, `-split "dev"`) {
		t.Fatalf("an unknown split: %d %s", code, msg)
	}
	if code, msg := run("-model", student, "-study", out, "-n", "2"); code == 0 || !strings.Contains(msg, "not a three-pass editor") {
		t.Fatalf("a student as the study's reference: %d %s", code, msg)
	}
	// A student set beside another editor than its teacher is refused.
	info := filepath.Join(student, diffusion.GuidanceFile)
	b, err = os.ReadFile(info)
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	g["teacher_fingerprint"] = "0123456789abcdef"
	if b, err = json.Marshal(g); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(info, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-study", filepath.Join(t.TempDir(), "other"), "-n", "2"}, {"-sweep", filepath.Join(t.TempDir(), "other"), "-n", "2"}} {
		code, msg := run(append([]string{"-model", dir, "-student", student}, args...)...)
		if code == 0 || !strings.Contains(msg, "0123456789abcdef") || !strings.Contains(msg, "give its teacher as -model") {
			t.Fatalf("%v with another editor's student: %d %s", args[0], code, msg)
		}
		if _, err := os.Stat(args[1]); err == nil {
			t.Fatalf("%v with another editor's student: its directory was made", args[0])
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-student-chain-steps", "2"}, "-student-chain-steps go with -student"},
		{[]string{"-chain-steps", "0"}, "want comma-separated positive step counts"},
		{[]string{"-chain-steps", "4@1.5"}, "want comma-separated positive step counts"},
		{[]string{"-chain-steps", "4@0.1"}, "keeps no step"},
		{[]string{"-strength", "0.5"}, "give a strength per step count"},
	} {
		bad := filepath.Join(t.TempDir(), "st")
		if code, msg := run(append([]string{"-model", dir, "-study", bad, "-n", "2"}, c.args...)...); code == 0 || !strings.Contains(msg, c.want) {
			t.Fatalf("%v: exit %d, %q; want an error containing %q", c.args, code, msg, c.want)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Fatalf("%v: the study's directory was made", c.args)
		}
	}
}

// TestChainData: -chain-data writes the first clauses' edits of the
// two-change training pairs, which "edits:chained:FILE" reads; it goes
// without -eval.
func TestChainData(t *testing.T) {
	dir := tinyEditor(t)
	out := filepath.Join(t.TempDir(), "chained.npz")
	if code, msg := run("-model", dir, "-chain-data", out, "-n", "6", "-eval"); code != 2 || !strings.Contains(msg, "-chain-data edits training pairs") {
		t.Fatalf("-chain-data with -eval: %d %s", code, msg)
	}
	if code, msg := run("-model", dir, "-chain-data", out, "-n", "60001"); code != 1 || !strings.Contains(msg, "-n 60001: the train split has 60000 pairs") {
		t.Fatalf("-chain-data past the train split: %d %s", code, msg)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a usage error wrote the file")
	}
	code, msg := run("-model", dir, "-chain-data", out, "-n", "6", "-steps", "2")
	if code != 0 || !strings.Contains(msg, "two-change instructions among the first 6 training pairs") {
		t.Fatalf("-chain-data: %d %s", code, msg)
	}
	a, err := npzio.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	k := len(a["pairs"].I64)
	if k == 0 || k > 6 || len(a["sources"].F32) != k*32*32 {
		t.Fatalf("%d pairs, %d source values", k, len(a["sources"].F32))
	}
}

// TestEditClockwork: -adaptor edits with Clockwork on the editor (identity,
// or an adaptor distilled for edits from the source, run only there), and
// -eval counts what it saves.
func TestEditClockwork(t *testing.T) {
	dir := tinyEditor(t)
	src := distilFromSource(t, dir)
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in.npz")
	imgs := make([]float32, 2*32*32)
	for i := range imgs {
		imgs[i] = float32(i%7)/3 - 1
	}
	if err := npzio.Write(in, []string{"images"}, map[string]npzio.Array{"images": npzio.Float32(imgs, 2, 1, 32, 32)}); err != nil {
		t.Fatal(err)
	}
	edit := func(name string, args ...string) []float32 {
		t.Helper()
		out := filepath.Join(tmp, name+".npz")
		code, msg := run(append([]string{"-model", dir, "-input", in, "-instruction", "make it thicker", "-output", out, "-steps", "4"}, args...)...)
		if code != 0 {
			t.Fatalf("%s: %d %s", name, code, msg)
		}
		a, err := npzio.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		return a["images"].F32
	}
	plain := edit("plain")
	if slices.Equal(plain, edit("identity", "-adaptor", "identity")) {
		t.Error("Clockwork with the identity adaptor edits as the editor does")
	}
	fromSrc := edit("from-source", "-strength", "0.5")
	if slices.Equal(fromSrc, edit("from-source-cw", "-strength", "0.5", "-adaptor", src)) {
		t.Error("the adaptor for edits from the source changed nothing")
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-adaptor", src}, 1, "distilled for the last 2 of 4 steps from the source (strength 0.5), not 4 steps from noise"},
		{[]string{"-adaptor", "identity,identity"}, 2, "a list of adaptors goes with -study"},
		{[]string{"-adaptor", filepath.Join(tmp, "none")}, 1, "-adaptor"},
		{[]string{"-adaptor", "identity", "-sweep", filepath.Join(tmp, "sweep")}, 2, "-sweep evaluates held-out pairs: -eval, -input, -output, -adaptor, -student-adaptor, -chain-steps and -student-chain-steps go without it"},
	} {
		out := filepath.Join(tmp, "refused.npz")
		code, msg := run(append([]string{"-model", dir, "-input", in, "-instruction", "make it thicker", "-output", out, "-steps", "4"}, c.args...)...)
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%v: %d %s; want %d mentioning %q", c.args, code, msg, c.code, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: wrote %s", c.args, out)
		}
	}
	if code, msg := run("-model", dir, "-study", filepath.Join(tmp, "study"), "-n", "2", "-adaptor", "identity,,identity"); code == 0 || !strings.Contains(msg, "an empty entry in the list of adaptors") {
		t.Errorf("an empty adaptor in the list: %d %s", code, msg)
	}
	if code, msg := run("-model", dir, "-input", in, "-instruction", "make it thicker and move it up", "-output", filepath.Join(tmp, "c.npz"), "-compose", "2", "-adaptor", "identity"); code != 2 || !strings.Contains(msg, "-adaptor with -compose") {
		t.Errorf("-adaptor with -compose: %d %s", code, msg)
	}
	gflops := func(args ...string) float64 {
		t.Helper()
		code, msg := run(append([]string{"-model", dir, "-eval", "-n", "4", "-steps", "4", "-strength", "0.5", "-chain=false"}, args...)...)
		m := regexp.MustCompile(`([0-9.]+) GFLOPs per edit`).FindStringSubmatch(msg)
		if code != 0 || m == nil {
			t.Fatalf("-eval %v: %d %s", args, code, msg)
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		return f
	}
	if p, cw := gflops(), gflops("-adaptor", src); !(cw < p && cw > p/2) {
		t.Errorf("-eval: %g GFLOPs per edit with the adaptor at one of two steps, %g without", cw, p)
	}
}

// TestEditFlagsOutOfMode: a flag that would do nothing in the mode given
// (-eval, -sweep, -study, -chain-data or an edit) is a usage error naming
// it, before anything runs or is written.
func TestEditFlagsOutOfMode(t *testing.T) {
	dir := tinyEditor(t)
	tmp := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-study", filepath.Join(tmp, "s"), "-json", filepath.Join(tmp, "s.json")}, "-json: not a flag of -study"},
		{[]string{"-study", filepath.Join(tmp, "s"), "-seeds", "3", "-instruction", "make it thicker"}, "not a flag of -study"},
		{[]string{"-eval", "-fewer", "4", "-rounds", "2"}, "-fewer, -rounds: not a flag of -eval"},
		{[]string{"-sweep", filepath.Join(tmp, "w"), "-json", filepath.Join(tmp, "w.json")}, "-json: not a flag of -sweep"},
		{[]string{"-chain-data", filepath.Join(tmp, "c.npz"), "-n", "10", "-split", "val"}, "-split: not a flag of -chain-data"},
		{[]string{"-input", "in.npz", "-instruction", "make it thicker", "-output", filepath.Join(tmp, "o.npz"), "-split", "bogus", "-n", "3"}, "-n, -split: not a flag of an edit (-input)"},
	} {
		code, msg := run(append([]string{"-model", dir}, c.args...)...)
		if code != 2 || !strings.Contains(msg, c.want) {
			t.Errorf("%v: %d %s; want 2 mentioning %q", c.args, code, msg, c.want)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("refused runs wrote %v", left)
	}
}
