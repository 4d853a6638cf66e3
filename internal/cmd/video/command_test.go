package video

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/texttest"
	"github.com/clockwork-go/clockwork/videos"
)

func tinyEditor(t *testing.T) string { return texttest.EditorDir(t) }

func run(args ...string) (int, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

func TestVideoCommand(t *testing.T) {
	dir := tinyEditor(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "toy.npz")
	code, msg := run("-model", dir, "-steps", "2", "-frames", "8", "-output", out)
	if code != 0 || !strings.Contains(msg, "warp error") {
		t.Fatalf("toy video: %d %s", code, msg)
	}
	// The GIF it wrote reads back as 8 frames of source | edit | true edit.
	f, n, shape, err := videos.ReadFrames(filepath.Join(tmp, "toy.gif"))
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 || shape[0] != 1 || shape[1] != 128 || len(f) != 8*128*shape[2] {
		t.Fatalf("GIF of %d frames of %v", n, shape)
	}
	// Shared noise: every frame of a still video is the same edit.
	still := filepath.Join(tmp, "still.npz")
	fr := make([]float32, 3*32*32)
	for i := range fr {
		fr[i] = -1
		if (i%1024)/32 == 16 {
			fr[i] = 1
		}
	}
	if err := npzio.Write(still, []string{"frames"}, map[string]npzio.Array{"frames": npzio.Float32(fr, 3, 1, 32, 32)}); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(tmp, "shared.npz")
	if code, msg := run("-model", dir, "-steps", "2", "-input", still, "-instruction", "make it thicker", "-shared-noise", "-output", so); code != 0 {
		t.Fatalf("shared noise: %d %s", code, msg)
	}
	a, err := npzio.Read(so)
	if err != nil {
		t.Fatal(err)
	}
	v := a["frames"].F32
	if !equal(v[:1024], v[1024:2048]) || !equal(v[:1024], v[2048:]) {
		t.Fatal("with shared noise the frames of a still video differ")
	}
	// Anchors: two shards give the frames of the whole run, bit for bit.
	full := filepath.Join(tmp, "anch.npz")
	if code, msg := run("-model", dir, "-steps", "2", "-frames", "8", "-anchors", "3", "-output", full); code != 0 || !strings.Contains(msg, "anchor attention") {
		t.Fatalf("anchors: %d %s", code, msg)
	}
	fa, err := npzio.Read(full)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, sh := range []string{"1/2", "2/2"} {
		p := filepath.Join(tmp, "shard"+sh[:1]+".npz")
		if code, msg := run("-model", dir, "-steps", "2", "-frames", "8", "-anchors", "3", "-shard", sh, "-output", p); code != 0 {
			t.Fatalf("shard %s: %d %s", sh, code, msg)
		}
		a, err := npzio.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		for k, f := range a["frame_index"].I64 {
			seen[f] = true
			if !equal(a["frames"].F32[k*1024:(k+1)*1024], fa["frames"].F32[f*1024:(f+1)*1024]) {
				t.Fatalf("shard %s: frame %d differs from the whole run", sh, f)
			}
		}
	}
	if len(seen) != 8 {
		t.Fatalf("the shards edit %d of 8 frames", len(seen))
	}
	// Bad input: a clear error, nothing written.
	empty := filepath.Join("testdata", "empty.npz") // numpy's np.zeros((0, 1, 32, 32), np.float32)
	big := filepath.Join(tmp, "big.npz")
	npzio.Write(big, []string{"frames"}, map[string]npzio.Array{"frames": npzio.Float32(make([]float32, 2*28*28), 2, 1, 28, 28)})
	notGIF := filepath.Join(tmp, "bad.gif")
	os.WriteFile(notGIF, []byte("GIF89a not really"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-input", empty, "-instruction", "make it thicker"}, "empty video"},
		{[]string{"-input", big, "-instruction", "make it thicker"}, "frames of 1×28×28"},
		{[]string{"-input", notGIF, "-instruction", "make it thicker"}, "bad.gif"},
		{[]string{"-input", still}, "needs -instruction"},
		{[]string{"-input", still, "-instruction", "make it purple"}, `"purple"`},
		{[]string{"-input", still, "-instruction", "make it thicker", "-anchors", "4"}, "4 anchors for a video of 3 frames"},
		{[]string{"-input", still, "-instruction", "make it thicker", "-shard", "3/2", "-anchors", "1"}, "-shard"},
	} {
		bad := filepath.Join(tmp, "bad-out.npz")
		code, msg := run(append([]string{"-model", dir, "-output", bad}, c.args...)...)
		if code == 0 || !strings.Contains(msg, c.want) {
			t.Fatalf("%v: %d %q, want an error containing %q", c.args, code, msg, c.want)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Fatalf("%v: an output was written", c.args)
		}
	}
}

func equal(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVideoStudy(t *testing.T) {
	dir := tinyEditor(t)
	out := filepath.Join(t.TempDir(), "study")
	code, msg := run("-model", dir, "-study", out, "-n", "2", "-frames", "8", "-steps", "2", "-anchor-counts", "1,3", "-equivariant-model", dir)
	if code != 0 {
		t.Fatalf("study: %d %s", code, msg)
	}
	for _, want := range []string{"| frame by frame, per-frame noise |", "| frame by frame, shared noise |", "| 3 anchors |", "| 3 anchors, shared noise |", "| equivariant, 3 anchors |", "| equivariant, 3 anchors, shared noise |", "| true edit |", "Against frame by frame, per-frame noise", "Against frame by frame, shared noise", "times lower"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("the study lacks %q:\n%s", want, msg)
		}
	}
	for _, f := range []string{"study.md", "study.json", "study_pareto.png", "video0.gif"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	// Every row reports the heap it peaked at: at least the editor's
	// weights and the video's frames.
	var js struct {
		Rows []videos.StudyRow `json:"rows"`
	}
	b, err := os.ReadFile(filepath.Join(out, "study.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	if len(js.Rows) == 0 || !strings.Contains(msg, "peak heap (MB)") {
		t.Fatalf("study.json has %d rows; output %q", len(js.Rows), msg)
	}
	for _, r := range js.Rows {
		if r.PeakHeapMB <= 0 || len(r.Videos) != 2 {
			t.Fatalf("%s: peak heap %g MB, %d videos' scores", r.Name, r.PeakHeapMB, len(r.Videos))
		}
	}
	if code, msg := run("-model", dir, "-study", out, "-anchors", "2"); code != 2 || !strings.Contains(msg, "-anchors: not a flag of -study") {
		t.Fatalf("-study with -anchors: %d %s", code, msg)
	}
}

// TestVideoFlagsOutOfMode: a flag that would do nothing in the mode given
// is a usage error naming it, and nothing is written.
func TestVideoFlagsOutOfMode(t *testing.T) {
	dir := tinyEditor(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "o.npz")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-study", filepath.Join(tmp, "s"), "-output", out, "-instruction", "make it thicker"}, "-instruction, -output: not a flag of -study"},
		{[]string{"-study", filepath.Join(tmp, "s"), "-index", "3"}, "-index: not a flag of -study"},
		{[]string{"-output", out, "-n", "4", "-student", dir}, "-n, -student: not a flag of an edit of a held-out toy video"},
		{[]string{"-input", "clip.gif", "-instruction", "make it thicker", "-output", out, "-frames", "8"}, "-frames: not a flag of an edit of -input"},
		{[]string{"-output", out, "-anchor-choice", "middle"}, "-anchor-choice: not a flag of an edit of a held-out toy video"},
		{[]string{"-output", out, "-anchors", "0", "-anchor-counts", "1,3"}, "-anchor-counts: not a flag of"},
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
