package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"arxi.dev/arxi/pkg/errcode"
)

// progressDelay is how long work runs before progress appears, so short
// runs stay quiet (SPEC §13: long work is about a second or more).
// ARXI_TEST_PROGRESS_DELAY (a Go duration) changes it, for the tests that
// drive a binary on a terminal.
var progressDelay = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("ARXI_TEST_PROGRESS_DELAY")); err == nil {
		return d
	}
	return time.Second
}()

// progressEvery is the least time between two frames.
const progressEvery = 200 * time.Millisecond

// Progress counts work and, when enabled, shows it on one line of stderr
// once the work has run for a second: the count, the total and a
// percentage when known, and the rate since the work began. It never
// writes to stdout, and the Command clears the line before any diagnostic.
// A nil *Progress does nothing.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	desc    string
	unit    string
	enabled bool
	start   time.Time
	last    time.Time // the last frame
	drawn   bool      // a frame is on the line
	n       int64
	total   int64
}

// ProgressFlag registers --progress on the command.
func (c *Command) ProgressFlag() *string {
	return c.Flags.String("progress", "auto", "progress on stderr: auto (when stderr is a terminal and stdout is not a pipe), always or never")
}

// NewProgress returns the command's Progress for mode auto, always or
// never, counting unit ("envelopes") under desc ("sealing"). In auto mode
// it draws only when stderr is a terminal, stdout is not a pipe (in a
// pipeline only the last stage draws) and diagnostics are not JSON.
func (c *Command) NewProgress(mode, desc, unit string) (*Progress, error) {
	p := &Progress{w: c.Stderr, desc: desc, unit: unit, start: time.Now()}
	switch mode {
	case "never":
	case "always":
		p.enabled = true
	case "auto", "":
		p.enabled = IsTerminal(c.Stderr) && !isPipe(c.Stdout) && !c.JSONDiagnostics()
	default:
		return nil, &errcode.Error{Code: errcode.UsageInvalid, Msg: fmt.Sprintf("--progress %q: want auto, always or never", mode)}
	}
	c.progress = p
	return p, nil
}

// SetTotal sets how many units the work has in all, when it is known.
func (p *Progress) SetTotal(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

// Add counts n more units.
func (p *Progress) Add(n int) {
	if p == nil || !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += int64(n)
	now := time.Now()
	if now.Sub(p.start) < progressDelay || p.drawn && now.Sub(p.last) < progressEvery {
		return
	}
	p.last, p.drawn = now, true
	line := "\r\x1b[K" + p.desc + " " + thousands(p.n)
	if p.total > 0 {
		line += "/" + thousands(p.total) + " " + p.unit + " " + strconv.FormatInt(min(100, p.n*100/p.total), 10) + "%"
	} else {
		line += " " + p.unit
	}
	// The rate is over the whole run, so the first frame is as sane as
	// the last.
	if el := now.Sub(p.start); el >= 100*time.Millisecond {
		line += "  " + thousands(int64(float64(p.n)/el.Seconds())) + "/s"
	}
	io.WriteString(p.w, line)
}

// clear erases the progress line, if one is drawn; the next Add draws
// again.
func (p *Progress) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		io.WriteString(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// Finish erases the progress line and stops drawing.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.clear()
	p.mu.Lock()
	p.enabled = false
	p.mu.Unlock()
}

// thousands formats n with commas: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
