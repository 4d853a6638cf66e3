package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScalingSummary(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "scaling.csv")
	os.WriteFile(csv, []byte(`config,mode,batch,threads,go_s,torch_s,ratio,torch,attention,allocator,cpu
unet4,train,16,1,0.8,1.0,1.25,2.11.0,sdpa,glibc mallopt,Xeon
unet4,train,16,2,0.5,0.6,1.2,2.11.0,sdpa,glibc mallopt,Xeon
unet4,train,16,4,0.25,0.4,1.6,2.11.0,sdpa,glibc mallopt,Xeon
`), 0o644)
	var so, se bytes.Buffer
	if code := run([]string{"-csv", csv, "-out", dir}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "table.md"))
	for _, want := range []string{"| unet4 | train | 16 | 4 | 0.2500 | 0.4000 | 1.60× | 80% | 62% |", "PyTorch 2.11.0, attention sdpa"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("table lacks %q:\n%s", want, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "scaling.png")); err != nil {
		t.Error(err)
	}
	os.WriteFile(csv, []byte("config,mode\nx,y\n"), 0o644)
	if code := run([]string{"-csv", csv, "-out", dir}, &so, &se); code != 1 {
		t.Errorf("malformed CSV: exit %d", code)
	}
}
