package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressDelay is how long work runs before progress appears, so short
// runs stay quiet (SPEC §13: long work is about a second or more).
const progressDelay = time.Second

// Progress counts work and, when enabled, shows a spinner with the count and
// rate on stderr once the work has run for a second. It never writes to
// stdout.
type Progress struct {
	w       io.Writer
	desc    string
	enabled bool
	start   time.Time
	n       int64
	bar     *progressbar.ProgressBar
}

// ProgressFlag registers --progress on the command.
func (c *Command) ProgressFlag() *string {
	return c.Flags.String("progress", "auto", "progress on stderr: auto (when stderr is a terminal), always or never")
}

// NewProgress returns a Progress for mode auto, always or never.
func NewProgress(mode string, stderr io.Writer, desc string) (*Progress, error) {
	p := &Progress{w: stderr, desc: desc, start: time.Now()}
	switch mode {
	case "never":
	case "always":
		p.enabled = true
	case "auto", "":
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			p.enabled = true
		}
	default:
		return nil, errcode.New(errcode.UsageInvalid, "--progress %q: want auto, always or never", mode)
	}
	return p, nil
}

// Add counts n more items.
func (p *Progress) Add(n int) {
	if !p.enabled {
		return
	}
	p.n += int64(n)
	if p.bar != nil {
		_ = p.bar.Add(n)
		return
	}
	if p.n&1023 != 0 && p.n > int64(n) {
		return
	}
	if time.Since(p.start) < progressDelay {
		return
	}
	p.bar = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(p.desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSpinnerType(14),
	)
	_ = p.bar.Add64(p.n)
}

// Finish ends the progress line, if one was shown.
func (p *Progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
