//go:build unix

package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestSignals runs Main in a child process (this test binary again) and
// sends it SIGTERM: a command that watches its context stops at its safe
// point with its own code; one that calls ExitOnSignal dies of the signal
// at once instead of running on to its end.
func TestSignals(t *testing.T) {
	if mode := os.Getenv("CLI_SIGNAL_CHILD"); mode != "" {
		Main(func(ctx context.Context, _ []string, stdout, _ io.Writer) int {
			if mode == "exit" {
				ExitOnSignal()
			}
			io.WriteString(stdout, "ready\n")
			select {
			case <-ctx.Done():
				return 130
			case <-time.After(time.Minute):
				return 0
			}
		})
	}
	for _, c := range []struct {
		mode   string
		code   int
		killed bool
	}{{"watch", 130, false}, {"exit", -1, true}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSignals$")
		cmd.Env = append(os.Environ(), "CLI_SIGNAL_CHILD="+c.mode)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("%s: the child said %q (%v)", c.mode, line, err)
		}
		start := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: the child ended with %v, want an exit status", c.mode, err)
		}
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() != c.killed || ee.ExitCode() != c.code || time.Since(start) > 20*time.Second {
			t.Fatalf("%s: exit code %d, killed by a signal %v, after %s; want %d, %v, at once", c.mode, ee.ExitCode(), ws.Signaled(), time.Since(start), c.code, c.killed)
		}
	}
}
