package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/internal/modeltest"
	"github.com/clockwork-go/clockwork/internal/provenance"
	"github.com/clockwork-go/clockwork/metrics"
	"github.com/clockwork-go/clockwork/unet"
)

func TestEvalModel(t *testing.T) {
	dir := modeltest.Dir(t, 1)
	out := filepath.Join(t.TempDir(), "r.json")
	var so, se bytes.Buffer
	code := run([]string{"-model", dir, "-n", "30", "-steps", "2", "-batch", "16", "-guidance", "2", "-bootstrap", "20", "-out", out, "-grid", ""}, &so, &se)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	var rep evaluate.Report
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	// An untrained model draws noise: a large FID, chance accuracy.
	if rep.N != 30 || rep.FID.Value < 10 || rep.Accuracy == nil || rep.Accuracy.Value > 0.5 || rep.GFLOPsPerSample <= 0 || rep.MsPerSample <= 0 {
		t.Errorf("report %+v", rep)
	}
	if !(rep.FID.Lo <= rep.FID.Value && rep.FID.Value <= rep.FID.Hi) {
		t.Errorf("FID %v outside its interval", rep.FID)
	}
	var stamp struct{ Provenance provenance.Record }
	if json.Unmarshal(b, &stamp); len(stamp.Provenance.CommandLine) == 0 || stamp.Provenance.CommandLine[0] != "eval" || stamp.Provenance.End == nil || stamp.Provenance.GoVersion == "" {
		t.Errorf("provenance %+v", stamp.Provenance)
	}
	if !strings.Contains(so.String(), "FID-MNIST") {
		t.Errorf("no table: %s", so.String())
	}
}

func TestEvalErrors(t *testing.T) {
	dir := modeltest.Dir(t, 1)
	noWeights := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(dir, unet.ConfigFile))
	os.WriteFile(filepath.Join(noWeights, unet.ConfigFile), b, 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-real", "test", "-model", dir}, 2, "-model do not apply"},
		{[]string{"-model", dir, "extra"}, 2, "unexpected argument"},
		{[]string{"-model", noWeights, "-out", filepath.Join(t.TempDir(), "x.json")}, 1, "holds no weights file"},
		{[]string{"-model", dir, "-sampler", "heun", "-n", "4", "-out", filepath.Join(t.TempDir(), "x.json")}, 1, "unknown sampler"},
		{[]string{"-real", "test", "-n", "20000"}, 1, "larger than the 10000"},
		{[]string{"-real", "test", "-reference", "val"}, 2, "reference"},
		{[]string{"-real", "test", "-reference", "dev", "-data", "captions"}, 2, "not test, train or val"},
		{[]string{"-model", dir, "-n", "4", "-reference", "val", "-out", filepath.Join(t.TempDir(), "x.json")}, 2, "not text-conditioned"},
		{[]string{"-model", dir, "-n", "4", "-reference", "val", "-data", "mnist", "-out", filepath.Join(t.TempDir(), "x.json")}, 2, "validation split"},
		{[]string{"-real", "test", "-n", "-1"}, 1, "at least 2 samples"},
		{[]string{"-model", dir, "-n", "1", "-out", filepath.Join(t.TempDir(), "x.json")}, 1, "at least 2 samples"},
	} {
		var so, se bytes.Buffer
		if code := run(c.args, &so, &se); code != c.code || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se.String(), c.code, c.want)
		}
	}
}

// TestEvalHelp: -h prints the synopsis, an example and the flags on stdout
// and exits 0.
func TestEvalHelp(t *testing.T) {
	var so, se bytes.Buffer
	if code := run([]string{"-h"}, &so, &se); code != 0 || !strings.Contains(so.String(), "Examples:") || !strings.Contains(so.String(), "-adaptor") {
		t.Errorf("-h: exit %d, stdout %q, stderr %q", code, so.String(), se.String())
	}
}

// TestEvalClockwork: the identity adaptor on clock 2 spends fewer FLOPs per
// sample than the plain U-Net and its samples lie at a positive distance
// from the plain model's; on clock 1 (no adaptor step) at distance 0;
// Clockwork flags need -adaptor.
func TestEvalClockwork(t *testing.T) {
	dir := modeltest.Dir(t, 1)
	type clockworkReport struct {
		evaluate.Report
		L2     *metrics.Interval      `json:"l2_to_teacher"`
		PSNR   *metrics.Interval      `json:"psnr_to_teacher"`
		Paired *evaluate.PairedTiming `json:"paired_timing"`
		Plain  float64                `json:"plain_gflops_per_sample"`
	}
	report := func(args ...string) clockworkReport {
		t.Helper()
		out := filepath.Join(t.TempDir(), "r.json")
		var so, se bytes.Buffer
		if code := run(append([]string{"-model", dir, "-n", "10", "-steps", "4", "-batch", "5", "-bootstrap", "5", "-out", out, "-grid", ""}, args...), &so, &se); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, se.String())
		}
		var rep clockworkReport
		b, _ := os.ReadFile(out)
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.Join(args, " "), "-adaptor") != strings.Contains(so.String(), "L2 to the plain model") {
			t.Errorf("%v: L2 to the plain model printed wrongly:\n%s", args, so.String())
		}
		return rep
	}
	plain := report()
	cw := report("-adaptor", "identity", "-clock", "2")
	if !(cw.GFLOPsPerSample < plain.GFLOPsPerSample) || !strings.Contains(cw.Model, "clock 2") {
		t.Errorf("identity clock 2: %g GFLOPs (%s), plain %g", cw.GFLOPsPerSample, cw.Model, plain.GFLOPsPerSample)
	}
	// The paired timing: the plain model's FLOPs counted in it match the
	// plain run's, and both sides were timed.
	if plain.Paired != nil || cw.Paired == nil || cw.Paired.Rounds != 11 || cw.Paired.MedianCI.Value < 0.95 || cw.Paired.Batch != 5 || !(cw.Paired.MsA > 0 && cw.Paired.MsB > 0) ||
		math.Abs(cw.Plain-plain.GFLOPsPerSample) > 1e-9*plain.GFLOPsPerSample {
		t.Errorf("paired timing: plain %+v, identity clock 2 %+v (plain model %g GFLOPs, plain run %g)", plain.Paired, cw.Paired, cw.Plain, plain.GFLOPsPerSample)
	}
	if none := report("-adaptor", "identity", "-clock", "2", "-time-rounds", "0"); none.Paired != nil {
		t.Errorf("-time-rounds 0 timed %+v", none.Paired)
	}
	if plain.L2 != nil || cw.L2 == nil || !(cw.L2.Value > 0) || cw.PSNR == nil {
		t.Errorf("L2 to the plain model: plain %v, identity clock 2 %v", plain.L2, cw.L2)
	}
	if one := report("-adaptor", "identity", "-clock", "1"); one.L2 == nil || one.L2.Value != 0 || one.PSNR.Value != metrics.MaxPSNR {
		t.Errorf("identity clock 1 (no adaptor step): L2 %v, PSNR %v; want 0 and the metrics.MaxPSNR cap", one.L2, one.PSNR)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-model", dir, "-clock", "2"}, 2, "go with -adaptor"},
		{[]string{"-model", dir, "-adaptor", "identity", "-time-rounds", "-1", "-n", "4"}, 2, "-time-rounds -1"},
		{[]string{"-model", dir, "-adaptor", "identity", "-at", "1,2", "-steps", "4", "-n", "4"}, 1, "first step must be full"},
		{[]string{"-model", dir, "-adaptor", filepath.Join(t.TempDir(), "none"), "-n", "4"}, 1, "adaptor.json"},
	} {
		var so, se bytes.Buffer
		if code := run(append(c.args, "-out", filepath.Join(t.TempDir(), "x.json")), &so, &se); code != c.code || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, se.String(), c.code, c.want)
		}
	}
}

// TestEvalSamplingDefaults: a model directory's sampling_defaults.json
// gives the guidance and steps the command line leaves out, and says so;
// a bad one is an error naming it, with nothing written.
func TestEvalSamplingDefaults(t *testing.T) {
	dir := modeltest.Dir(t, 1)
	path := filepath.Join(dir, diffusion.SamplingDefaultsFile)
	os.WriteFile(path, []byte(`{"guidance": 2, "steps": 2, "chosen_by": "a test"}`), 0o644)
	for _, c := range []struct {
		args  []string
		steps int
	}{{nil, 2}, {[]string{"-steps", "1"}, 1}} {
		out := filepath.Join(t.TempDir(), "r.json")
		var so, se bytes.Buffer
		if code := run(append([]string{"-model", dir, "-n", "8", "-bootstrap", "10", "-time-rounds", "0", "-out", out, "-grid", ""}, c.args...), &so, &se); code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, se.String())
		}
		var rep evaluate.Report
		b, _ := os.ReadFile(out)
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Guidance != 2 || rep.Steps != c.steps || !strings.Contains(se.String(), "guidance 2") {
			t.Errorf("%v: guidance %g, %d steps; stderr %q", c.args, rep.Guidance, rep.Steps, se.String())
		}
	}
	for _, bad := range []string{`{"guidance": 0.5}`, `{"guidance": 2, "sampler": "ddim"}`} {
		os.WriteFile(path, []byte(bad), 0o644)
		out := filepath.Join(t.TempDir(), "r.json")
		var so, se bytes.Buffer
		if code := run([]string{"-model", dir, "-n", "8", "-out", out, "-grid", ""}, &so, &se); code != 1 || !strings.Contains(se.String(), diffusion.SamplingDefaultsFile) {
			t.Errorf("%s: exit %d, %q", bad, code, se.String())
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: wrote %s", bad, out)
		}
	}
}
