package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/clockwork-go/clockwork/internal/fsutil"
	"github.com/clockwork-go/clockwork/internal/provenance"
)

// Command is a command's flags and its two ways of stopping: a usage error
// (exit 2: the command line is wrong) and a failure (exit 1: the work
// failed), each one line on stderr naming the command.
type Command struct {
	Name  string
	Flags *flag.FlagSet
	// Synopsis says in a line or two what the command does; Examples are
	// command lines that show it.
	Synopsis string
	Examples []string
	Stdout   io.Writer
	Stderr   io.Writer
	args     []string // as parsed, for Provenance
}

// New returns a command with an empty flag set.
func New(name, synopsis string, examples []string, stdout, stderr io.Writer) *Command {
	c := &Command{Name: name, Synopsis: synopsis, Examples: examples, Stdout: stdout, Stderr: stderr}
	c.Flags = flag.NewFlagSet(name, flag.ContinueOnError)
	c.Flags.SetOutput(stderr)
	c.Flags.Usage = func() {} // Parse says what to do
	return c
}

// usage writes the synopsis, the examples and the flags.
func (c *Command) usage(w io.Writer) {
	fmt.Fprintf(w, "%s: %s\n", c.Name, c.Synopsis)
	if len(c.Examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range c.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprintln(w, "\nFlags:")
	c.Flags.SetOutput(w)
	c.Flags.PrintDefaults()
	c.Flags.SetOutput(c.Stderr)
}

// Parse parses args. It returns false, with the exit code, when the
// command should stop: 0 after -h or -help (the usage on stdout), 2 on a
// bad flag, or on positional arguments unless args is true.
func (c *Command) Parse(argv []string, args bool) (int, bool) {
	c.args = argv
	if err := c.Flags.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(c.Stdout)
			return 0, false
		}
		fmt.Fprintf(c.Stderr, "%s -h lists the flags, with examples\n", c.Name)
		return 2, false
	}
	if !args && c.Flags.NArg() > 0 {
		return c.Usage("unexpected argument %q", c.Flags.Arg(0)), false
	}
	return 0, true
}

// Given reports whether the flag was set on the command line.
func (c *Command) Given(name string) bool {
	set := false
	c.Flags.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// GivenExcept returns the flags set on the command line other than those
// named, as "-name" (a resumed run's settings that cannot change).
func (c *Command) GivenExcept(names ...string) []string {
	var out []string
	c.Flags.Visit(func(f *flag.Flag) {
		for _, n := range names {
			if f.Name == n {
				return
			}
		}
		out = append(out, "-"+f.Name)
	})
	return out
}

// Only refuses the flags given that are not among names: in mode (a
// phrase such as "-study" or "an edit (-input)") such a flag would do
// nothing, and is a usage error naming it rather than silently ignored.
// ok is false, with the exit code, when it refuses.
func (c *Command) Only(mode string, names ...string) (code int, ok bool) {
	bad := c.GivenExcept(names...)
	if len(bad) == 0 {
		return 0, true
	}
	return c.Usage("%s: not a flag of %s (it would do nothing there)", strings.Join(bad, ", "), mode), false
}

// Usage reports a usage error and returns exit code 2.
func (c *Command) Usage(format string, a ...any) int {
	fmt.Fprintf(c.Stderr, "%s: %s\n", c.Name, fmt.Sprintf(format, a...))
	return 2
}

// Fail reports a failure and returns exit code 1.
func (c *Command) Fail(err error) int {
	fmt.Fprintf(c.Stderr, "%s: %v\n", c.Name, err)
	return 1
}

// Interrupted reports work stopped by a signal, with how to continue it,
// and returns exit code 130.
func (c *Command) Interrupted(format string, a ...any) int {
	fmt.Fprintf(c.Stderr, "%s: interrupted; %s\n", c.Name, fmt.Sprintf(format, a...))
	return 130
}

// Printf writes to the command's stdout.
func (c *Command) Printf(format string, a ...any) { fmt.Fprintf(c.Stdout, format, a...) }

// Main runs a command's run function with a context cancelled on SIGINT or
// SIGTERM (work then stops at a safe point and saves what it has; a
// command without one calls ExitOnSignal) and exits with its code.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// ExitOnSignal restores SIGINT's and SIGTERM's default for a command that
// does not watch Main's context (one that writes its outputs only at the
// end): they then end the process at once, as in any Go program, instead
// of cancelling a context that nothing reads while the work runs on to its
// end. Its Run calls it first.
func ExitOnSignal() { signal.Reset(os.Interrupt, syscall.SIGTERM) }

// Split returns the non-empty fields of a comma-separated list.
func Split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Provenance records this invocation (its command line, the code's
// revision, Go, the machine, the start time) in dir's provenance.json and
// returns the function that stamps its end, for a command to defer. A
// record that cannot be written is a note, not a failure.
func (c *Command) Provenance(dir string) func() {
	end, err := provenance.Begin(dir, provenance.New(c.Name, c.args))
	if err != nil {
		c.Printf("note: no provenance record in %s: %v\n", dir, err)
		return func() {}
	}
	return func() {
		if err := end(); err != nil {
			c.Printf("note: provenance of %s: %v\n", dir, err)
		}
	}
}

// WriteStamped writes a JSON report (v, which must marshal to a JSON
// object) to path, atomically, with this invocation's provenance record,
// ended now, under "provenance": what a report written to a file rather
// than a run directory carries.
func (c *Command) WriteStamped(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: the report is not a JSON object: %w", c.Name, err)
	}
	r := provenance.New(c.Name, c.args)
	end := time.Now().UTC().Truncate(time.Second)
	r.End = &end
	if m["provenance"], err = json.Marshal(r); err != nil {
		return err
	}
	return fsutil.WriteJSON(path, m)
}
