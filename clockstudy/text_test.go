package clockstudy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/distill"
	"github.com/clockwork-go/clockwork/internal/texttest"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/study"
)

// TestTextStudy: a study of a text-conditioned teacher guides every cell,
// draws the test captions, distils on prompts (the adaptor reading the
// pooled text among them) and reports prompt adherence beside real images'
// in its cells, tables and claims.
func TestTextStudy(t *testing.T) {
	m, text := texttest.Model(t, 16, diffusion.TextTokens)
	q, err := Quick(m)
	if err != nil {
		t.Fatal(err)
	}
	if q.Guidance != TextGuidance || q.Data != captions.DataKind {
		t.Errorf("quick study of a text teacher guides at %g and compares with %q", q.Guidance, q.Data)
	}
	var withText bool
	for _, meth := range q.Methods {
		withText = withText || meth.Text
	}
	if !withText {
		t.Error("the quick study of a text teacher has no adaptor reading the text")
	}
	s, _ := diffusion.NewSchedule(diffusion.DefaultScheduleConfig())
	rn := ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2", "headline", "text")
	rt := rn
	rt.Text = true
	c := Config{Model: m.Fingerprint(), Shape: []int{1, 32, 32}, N: 6, TimeBatch: 3, TimeRounds: 1, Keep: 2, Guidance: 2,
		Distill: distill.Training{Epochs: 1, Trajectories: 4, Validation: 4, Batch: 4, LR: 1e-3, Decay: "constant"},
		Methods: []Method{TeacherMethod("dpmpp2m", 8, "headline"), rn, rt}}
	if err := c.Validate(m); err != nil {
		t.Fatal(err)
	}
	clf, err := metrics.MNISTClassifier()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := captions.Open("train", 50, captions.TrainSeed)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &Runner{Config: c, Model: m, Noise: s, Classifier: clf, Dir: dir, Adaptors: filepath.Join(dir, "adaptors"), Batch: 3}
	if _, err := study.Run(context.Background(), c.Study(), study.Options{Dir: dir}, r.Run); err == nil || !strings.Contains(err.Error(), "needs a text encoder") {
		t.Errorf("a text teacher's study without its text encoder: %v", err)
	}
	r = &Runner{Config: c, Model: m, Noise: s, Classifier: clf, Dir: dir, Adaptors: filepath.Join(dir, "adaptors"), Batch: 3, Text: text, Captions: pool.Captions}
	if err := r.Prepare(c.Methods); err != nil {
		t.Fatal(err)
	}
	recs, err := study.Run(context.Background(), c.Study(), study.Options{Dir: dir}, r.Run)
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		var res Result
		json.Unmarshal(rec.Result, &res)
		if res.Prompts == nil || res.Prompts.Samples.Images != 6 || res.Prompts.Ceiling.Share.Value < 0.8 {
			t.Errorf("cell %d: prompt adherence %+v", i, res.Prompts)
		}
		if i == 0 {
			// The teacher's cost: two branches of guidance and the
			// text encoder once per distinct prompt.
			_, pass := m.CostAt(32, 32, diffusion.TextTokens).Total()
			if min := 2 * 8 * float64(pass) / 1e9; !(res.GFLOPs > min && res.GFLOPs < min*1.01) {
				t.Errorf("teacher: %g GFLOPs, want a little over %g", res.GFLOPs, min)
			}
		}
	}
	results, err := Decode(c, recs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Report(dir, results); err != nil {
		t.Fatal(err)
	}
	tables, _ := os.ReadFile(filepath.Join(dir, "tables.md"))
	if !strings.Contains(string(tables), "prompt adherence") || !strings.Contains(string(tables), "pooled text") {
		t.Errorf("tables.md lacks prompt adherence or the text adaptor:\n%s", tables)
	}
	var names []string
	for _, cl := range results.Claims() {
		names = append(names, cl.Name)
		if cl.Name == "headline" && cl.Outcome("prompt adherence") == NotMeasured {
			t.Errorf("headline claim has no prompt-adherence verdict: %+v", cl)
		}
	}
	if !strings.Contains(strings.Join(names, " "), "text") {
		t.Errorf("claims %v lack the text adaptor's", names)
	}
}
