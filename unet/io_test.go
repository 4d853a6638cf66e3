package unet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/npzio"
)

// copyModel copies the config and weights of a fixture into a temp dir.
func copyModel(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{ConfigFile, NPZFile} {
		b, err := os.ReadFile(filepath.Join("testdata", name, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editWeights rewrites a model directory's weights through f.
func editWeights(t *testing.T, dir string, f func(order []string, a map[string]npzio.Array) []string) {
	t.Helper()
	path := filepath.Join(dir, NPZFile)
	a, err := npzio.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for k := range a {
		order = append(order, k)
	}
	order = f(order, a)
	if err := npzio.Write(path, order, a); err != nil {
		t.Fatal(err)
	}
}

func editConfig(t *testing.T, dir string, from, to string) {
	t.Helper()
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, from) {
		t.Fatalf("config has no %q", from)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(s, from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func remove(order []string, k string) []string {
	var out []string
	for _, o := range order {
		if o != k {
			out = append(out, o)
		}
	}
	return out
}

func TestLoadBadModelDirectories(t *testing.T) {
	const w = "down_blocks.1.resnets.0.conv1.weight"
	cases := []struct {
		name  string
		edit  func(t *testing.T, dir string)
		wants []string // substrings of the error
	}{
		{"missing config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ConfigFile)) },
			[]string{ConfigFile, "no such file"}},
		{"missing weights", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, NPZFile)) },
			[]string{"holds no weights file", WeightsFile, NPZFile}},
		{"missing weight", func(t *testing.T, dir string) {
			editWeights(t, dir, func(o []string, a map[string]npzio.Array) []string {
				delete(a, "conv_out.bias")
				return remove(o, "conv_out.bias")
			})
		}, []string{`missing weight "conv_out.bias"`}},
		{"extra weight", func(t *testing.T, dir string) {
			editWeights(t, dir, func(o []string, a map[string]npzio.Array) []string {
				a["conv_out.extra"] = npzio.Float32([]float32{1}, 1)
				return append(o, "conv_out.extra")
			})
		}, []string{`unexpected weight "conv_out.extra"`}},
		{"wrong shape", func(t *testing.T, dir string) {
			editWeights(t, dir, func(o []string, a map[string]npzio.Array) []string {
				x := a["conv_in.bias"]
				a["conv_in.bias"] = npzio.Float32(x.F32[:len(x.F32)-1], len(x.F32)-1)
				return o
			})
		}, []string{`"conv_in.bias"`, "shape (7)", "want (8)"}},
		{"int64 weight", func(t *testing.T, dir string) {
			editWeights(t, dir, func(o []string, a map[string]npzio.Array) []string {
				a["conv_in.bias"] = npzio.Int64(make([]int64, 8), 8)
				return o
			})
		}, []string{`"conv_in.bias"`, "int64", "want float32"}},
		{"float64 weight", func(t *testing.T, dir string) {
			path := filepath.Join(dir, NPZFile)
			if err := npz.Write(path, map[string]any{"conv_in.bias": make([]float64, 8)}); err != nil {
				t.Fatal(err)
			}
		}, []string{`"conv_in.bias"`, "float64", "want float32"}},
		{"NaN weight", func(t *testing.T, dir string) {
			editWeights(t, dir, func(o []string, a map[string]npzio.Array) []string {
				a[w].F32[3] = float32(nan())
				return o
			})
		}, []string{w, "NaN"}},
		{"truncated npz", func(t *testing.T, dir string) {
			path := filepath.Join(dir, NPZFile)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:len(b)/2], 0o644)
		}, []string{NPZFile, "not a readable .npz"}},
		{"garbage npz member", func(t *testing.T, dir string) {
			path := filepath.Join(dir, NPZFile)
			f, _ := os.Create(path)
			zw := npz.NewWriter(f)
			zw.Write("conv_in.bias", "not an array")
			zw.Close()
		}, []string{NPZFile, "not supported"}},
		{"unknown block type", func(t *testing.T, dir string) {
			editConfig(t, dir, `"DownBlock2D"`, `"CrossAttnDownBlock2D"`)
		}, []string{ConfigFile, `down block type "CrossAttnDownBlock2D" is not supported`}},
		{"unknown key", func(t *testing.T, dir string) {
			editConfig(t, dir, `"in_channels"`, `"in_channel"`)
		}, []string{`unknown UNet2DModel config key "in_channel"`}},
		{"unsupported option", func(t *testing.T, dir string) {
			editConfig(t, dir, `"resnet_time_scale_shift": "default"`, `"resnet_time_scale_shift": "scale_shift"`)
		}, []string{"resnet_time_scale_shift", "scale_shift"}},
		{"bad groups", func(t *testing.T, dir string) {
			editConfig(t, dir, `"norm_num_groups": 4`, `"norm_num_groups": 3`)
		}, []string{"norm groups"}},
		{"malformed json", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"in_channels": 1,`), 0o644)
		}, []string{ConfigFile, "JSON"}},
		{"wrong type", func(t *testing.T, dir string) {
			editConfig(t, dir, `"layers_per_block": 1`, `"layers_per_block": "one"`)
		}, []string{ConfigFile, "layers_per_block"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyModel(t, "nomid")
			c.edit(t, dir)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			t.Log(err)
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the directory", err)
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestSaveLoadRoundTrip(t *testing.T) {
	m, err := New(tinyConfig(), 11)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Params.Names() {
		a, b := m.Params.Data(n), m2.Params.Data(n)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d] = %g after a round trip, want %g", n, i, b[i], a[i])
			}
		}
	}
	if m2.Config.NumClasses() != 3 || *m2.Config.NormNumGroups != 2 {
		t.Errorf("config changed in a round trip: %+v", m2.Config)
	}
	x := tensor.New(tensor.WithShape(1, 1, 4, 4), tensor.WithBacking(make([]float32, 16)))
	a, err := m.Forward(x, []float64{5}, Cond{Labels: []int64{1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m2.Forward(x, []float64{5}, Cond{Labels: []int64{1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range a.Data().([]float32) {
		if b.Data().([]float32)[i] != v {
			t.Fatal("reloaded model computes a different output")
		}
	}
}

func TestSameSeedSameWeights(t *testing.T) {
	a, _ := New(tinyConfig(), 7)
	b, _ := New(tinyConfig(), 7)
	c, _ := New(tinyConfig(), 8)
	same, differ := true, false
	for _, n := range a.Params.Names() {
		for i, v := range a.Params.Data(n) {
			same = same && v == b.Params.Data(n)[i]
			differ = differ || v != c.Params.Data(n)[i]
		}
	}
	if !same || !differ {
		t.Errorf("seeded init: same seed equal %t, other seed differs %t", same, differ)
	}
}

func TestForwardBadInputs(t *testing.T) {
	m, _ := New(tinyConfig(), 1)
	x := func(s ...int) *tensor.Dense { return tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32)) }
	cases := []struct {
		name   string
		x      *tensor.Dense
		t      []float64
		labels []int64
		want   string
	}{
		{"channels", x(1, 3, 4, 4), []float64{1}, []int64{0}, "want (N,1,H,W)"},
		{"odd size", x(1, 1, 5, 4), []float64{1}, []int64{0}, "not divisible by 2"},
		{"timesteps", x(2, 1, 4, 4), []float64{1, 2, 3}, []int64{0, 1}, "3 timesteps for a batch of 2"},
		{"no labels", x(1, 1, 4, 4), []float64{1}, nil, "class labels are required"},
		{"label range", x(1, 1, 4, 4), []float64{1}, []int64{3}, "outside [0,3)"},
		{"dtype", tensor.New(tensor.WithShape(1, 1, 4, 4), tensor.Of(tensor.Float64)), []float64{1}, []int64{0}, "dtype"},
	}
	for _, c := range cases {
		if _, err := m.Forward(c.x, c.t, Cond{Labels: c.labels}, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	nanX := x(1, 1, 4, 4)
	nanX.Data().([]float32)[3] = float32(nan())
	if _, err := m.Forward(nanX, []float64{1}, Cond{Labels: []int64{0}}, nil); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN sample: error %v", err)
	}
}

// TestSampleHW: sample_size as diffusers writes it (a number, [h, w] or
// null) and the values that are errors.
func TestSampleHW(t *testing.T) {
	for _, c := range []struct {
		json string
		h, w int
		ok   bool
	}{
		{`32`, 32, 32, true}, {`[16, 24]`, 16, 24, true}, {`null`, 32, 32, true},
		{`0`, 0, 0, false}, {`-8`, 0, 0, false}, {`7.5`, 0, 0, false}, {`"32"`, 0, 0, false},
		{`[16]`, 0, 0, false}, {`[16, "a"]`, 0, 0, false}, {`[16, 8, 4]`, 0, 0, false},
	} {
		cfg := DefaultConfig()
		if err := json.Unmarshal([]byte(c.json), &cfg.SampleSize); err != nil {
			t.Fatal(err)
		}
		h, w, err := cfg.SampleHW()
		if c.ok != (err == nil) || h != c.h || w != c.w {
			t.Errorf("sample_size %s: %d×%d, %v", c.json, h, w, err)
		}
		if verr := cfg.Validate(); c.ok != (verr == nil) || (!c.ok && !strings.Contains(verr.Error(), "sample_size")) {
			t.Errorf("sample_size %s: Validate %v", c.json, verr)
		}
	}
}

// TestTinyConfig: the embedded mnist_tiny config is the reference config at
// widths 8, 16, 16 with GroupNorm groups 4 and attention head width 8, and
// nothing else changed (tests and examples rely on it).
func TestTinyConfig(t *testing.T) {
	want, err := ConfigFrom("mnist")
	if err != nil {
		t.Fatal(err)
	}
	want.BlockOutChannels = []int{8, 16, 16}
	four, eight := 4, 8
	want.NormNumGroups, want.AttentionHeadDim = &four, &eight
	got, err := ConfigFrom("mnist_tiny")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mnist_tiny is\n%+v\nwant\n%+v", got, want)
	}
}
