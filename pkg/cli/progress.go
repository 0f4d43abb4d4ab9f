package cli

import (
	"fmt"
	"os"
	"sync"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"github.com/schollz/progressbar/v3"
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
// once the work has run for progressDelay, drawn by
// github.com/schollz/progressbar: with a total, the percentage, a bar, the
// count and the rate; without, a spinner, the count, the rate and the time
// elapsed. It never writes to stdout, and the Command clears the line
// before any diagnostic. A nil *Progress does nothing.
type Progress struct {
	mu      sync.Mutex
	bar     *progressbar.ProgressBar // nil: disabled, or finished
	start   time.Time
	pending int64 // counted before the first frame
	drawing bool  // the delay is over: counts go to the bar
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
	var enabled bool
	switch mode {
	case "never":
	case "always":
		enabled = true
	case "auto", "":
		enabled = IsTerminal(c.Stderr) && !isPipe(c.Stdout) && !c.JSONDiagnostics()
	default:
		return nil, &errcode.Error{Code: errcode.UsageInvalid, Msg: fmt.Sprintf("--progress %q: want auto, always or never", mode)}
	}
	p := &Progress{start: time.Now()}
	if enabled {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(c.Stderr),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionShowTotalBytes(false), // no "/-" after a count with no total
			progressbar.OptionUseANSICodes(true),    // erase the line, not overwrite it with spaces
			// Reaching the total erases the line: the bar never stays
			// on screen, even when its only frame is the last.
			progressbar.OptionClearOnFinish(),
			// The first frame comes when the delay ends; the frames
			// after it at most every progressEvery.
			progressbar.OptionThrottle(min(progressEvery, progressDelay)),
			// Frames only from Add: no goroutine drawing on its own,
			// which could draw after the line is cleared for a
			// diagnostic.
			progressbar.OptionSetSpinnerChangeInterval(0),
			// Hidden until the delay ends (SetTotal draws nothing).
			progressbar.OptionSetVisibility(false),
		)
		// The rates are over the whole run, from now, so the first
		// frame's is as sane as the last's.
		p.bar.Reset()
	}
	c.progress = p
	return p, nil
}

// SetTotal sets how many units the work has in all, when it is known.
func (p *Progress) SetTotal(n int64) {
	if p == nil || n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		progressbar.OptionShowTotalBytes(true)(p.bar) // "500/2000"
		p.bar.ChangeMax64(n)
	}
}

// Add counts n more units.
func (p *Progress) Add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	if !p.drawing {
		p.pending += int64(n)
		if time.Since(p.start) < progressDelay {
			return
		}
		progressbar.OptionSetVisibility(true)(p.bar)
		p.drawing = true
		p.bar.Add64(p.pending) // an error is a count past the total: the bar is done
		return
	}
	p.bar.Add(n)
}

// clear erases the progress line, if one is drawn; the next Add draws
// again.
func (p *Progress) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear() // nothing when no frame was drawn
	}
}

// Finish erases the progress line and stops drawing.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
		p.bar.Exit()
		p.bar = nil
	}
}
