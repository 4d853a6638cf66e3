package provenance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/clockwork-go/clockwork/internal/fsutil"
)

// File is the name of the provenance file in a run directory.
const File = "provenance.json"

// Record is one invocation of a command.
type Record struct {
	CommandLine []string `json:"command_line"`
	// Revision is the commit the code was built from; RevisionFrom says
	// how it is known ("build": the binary's VCS stamp; "git": git in the
	// working directory, for binaries without one; "" unknown); Modified
	// that the tree had uncommitted changes.
	Revision     string     `json:"revision,omitempty"`
	RevisionFrom string     `json:"revision_from,omitempty"`
	Modified     bool       `json:"modified"`
	GoVersion    string     `json:"go_version"`
	Platform     string     `json:"platform"`
	Host         string     `json:"host"`
	CPU          string     `json:"cpu"`
	Cores        int        `json:"cores"`
	Start        time.Time  `json:"start"`
	End          *time.Time `json:"end,omitempty"`
}

// New returns the record of this process, started now, run with args
// (os.Args without the program name, as a command takes them).
func New(command string, args []string) Record {
	host, _ := os.Hostname()
	r := Record{CommandLine: append([]string{command}, args...), GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Host: host, CPU: CPU(), Cores: runtime.NumCPU(),
		Start: time.Now().UTC().Truncate(time.Second)}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				r.Revision, r.RevisionFrom = s.Value, "build"
			case "vcs.modified":
				r.Modified = s.Value == "true"
			}
		}
	}
	if r.Revision == "" { // go run and go test builds carry no VCS stamp
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			r.Revision, r.RevisionFrom = strings.TrimSpace(string(out)), "git"
			if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
				r.Modified = len(strings.TrimSpace(string(st))) > 0
			}
		}
	}
	return r
}

// CPU names the machine's CPU model ("unknown CPU" where the system does
// not say).
func CPU() string {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

// String is the record in one line, for a report.
func (r Record) String() string {
	rev := "an unknown revision"
	if r.Revision != "" {
		rev = "revision " + r.Revision[:min(12, len(r.Revision))]
		if r.Modified {
			rev += " with uncommitted changes"
		}
	}
	end := ""
	if r.End != nil {
		end = ", ended " + r.End.Format(time.RFC3339)
	}
	return fmt.Sprintf("`%s`: %s, %s, %s on %s (%s, %d cores), started %s%s",
		strings.Join(r.CommandLine, " "), rev, r.GoVersion, r.Platform, r.Host, r.CPU, r.Cores, r.Start.Format(time.RFC3339), end)
}

// Runs returns the records of a run directory, oldest first (none when it
// has no provenance.json).
func Runs(dir string) ([]Record, error) {
	b, err := os.ReadFile(filepath.Join(dir, File))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f struct {
		Runs []Record `json:"runs"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, File), err)
	}
	return f.Runs, nil
}

// Begin appends r to dir's provenance.json (creating both) and returns the
// function that stamps its end time there when the command ends.
func Begin(dir string, r Record) (end func() error, err error) {
	runs, err := Runs(dir)
	if err != nil {
		return nil, err
	}
	i := len(runs)
	runs = append(runs, r)
	if err := write(dir, runs); err != nil {
		return nil, err
	}
	return func() error {
		runs, err := Runs(dir)
		if err != nil || i >= len(runs) {
			return err
		}
		t := time.Now().UTC().Truncate(time.Second)
		runs[i].End = &t
		return write(dir, runs)
	}, nil
}

func write(dir string, runs []Record) error {
	return fsutil.WriteJSON(filepath.Join(dir, File), struct {
		Runs []Record `json:"runs"`
	}{runs})
}

// Section is a Markdown section listing dir's records, for a study's
// summary.md ("" when it has none or they cannot be read).
func Section(dir string) string {
	runs, err := Runs(dir)
	if err != nil || len(runs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n## Provenance\n\nWhat made these results (provenance.json):\n\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	return b.String()
}
