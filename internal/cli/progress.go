package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows the progress of one long piece of work.
type Progress struct {
	w        io.Writer
	desc     string
	total    int
	start    time.Time
	bar      *progressbar.ProgressBar
	nextPct  int
	every    int
	base     int
	finished bool
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewProgress starts showing progress over total units of work on w (nil:
// show nothing). On a terminal it draws a bar with rate and ETA; otherwise
// it prints a line at every 5% done.
func NewProgress(w io.Writer, total int, desc string) *Progress {
	p := &Progress{w: w, desc: desc, total: total, start: time.Now(), every: 5}
	if w != nil && IsTerminal(w) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
			progressbar.OptionShowIts(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30), progressbar.OptionSetDescription(desc))
	}
	p.nextPct = p.every
	return p
}

// From says that the work starts with done units already done (a resumed
// run): rates and ETA count from there.
func (p *Progress) From(done int) *Progress {
	if p == nil {
		return p
	}
	p.base = done
	for p.total > 0 && p.nextPct <= done*100/p.total {
		p.nextPct += p.every
	}
	if p.bar != nil {
		p.bar.Set(done)
	}
	return p
}

// Set records that done units are done; status (may be empty) describes the
// latest one ("loss 0.0213").
func (p *Progress) Set(done int, status string) {
	if p == nil || p.w == nil || p.finished {
		return
	}
	if p.bar != nil {
		if status != "" {
			p.bar.Describe(p.desc + " " + status)
		}
		p.bar.Set(done)
		return
	}
	if p.total <= 0 {
		return
	}
	pct := done * 100 / p.total
	if pct < p.nextPct && done < p.total {
		return
	}
	for p.nextPct <= pct {
		p.nextPct += p.every
	}
	el := time.Since(p.start)
	line := fmt.Sprintf("%s: %d/%d (%d%%), %s elapsed", p.desc, done, p.total, pct, el.Round(time.Second))
	if done > p.base && done < p.total {
		eta := time.Duration(float64(el) * float64(p.total-done) / float64(done-p.base))
		line += fmt.Sprintf(", ETA %s", eta.Round(time.Second))
	}
	if status != "" {
		line += ", " + status
	}
	fmt.Fprintln(p.w, line)
}

// Finish ends the display (a bar is completed and its line ended).
func (p *Progress) Finish() {
	if p == nil || p.w == nil || p.finished {
		return
	}
	p.finished = true
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
