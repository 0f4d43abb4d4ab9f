package openclaw

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/stream"
)

// maxSkippedNames bounds the distinct frame names counted.
const maxSkippedNames = 64

// Capture is a capture read and checked by Read, held in a spool file
// until Close.
type Capture struct {
	cfg   Config
	spool *os.File
	path  string // the spool's name when it could not be unlinked at once

	// InputSHA256 is the SHA-256 of the capture's bytes, as read.
	InputSHA256 scalar.Digest
	// Size is the capture's size in bytes and Lines its number of lines.
	Size  int64
	Lines int64
	// Records is the number of records spooled: agent events, or
	// transcript entries with the header.
	Records int
	// Skipped counts the frames that are not agent events, by kind
	// ("event tick", "res").
	Skipped map[string]int

	first    scalar.Timestamp // claimed_at of the first record
	findings []Finding
	omitted  int
	problems []*errcode.Error // pairing problems
	dropped  int
	warnings []string
	ends     map[int64]*unpaired
	session  scalar.Label // a transcript's header id
}

// Findings returns the failed sequence and tree checks, in line order,
// and how many more there were than listed.
func (c *Capture) Findings() ([]Finding, int) { return c.findings, c.omitted }

// Warnings returns what the mapping records but an operator should hear
// of: tool calls without a result and results without a call.
func (c *Capture) Warnings() []string { return c.warnings }

// Close removes the spool.
func (c *Capture) Close() error {
	err := c.spool.Close()
	if c.path != "" {
		os.Remove(c.path)
	}
	return err
}

// Read reads a capture from r in cfg.Format and checks it whole (the
// first pass, see the package doc): every line is decoded strictly and
// the sequence, tree and pairing checks run. A line that cannot be decoded
// fails Read with an error naming the line and the JSON path (exit 3); a
// failed check does not: Map enforces cfg.Sequence and cfg.RequirePaired.
func Read(ctx context.Context, r io.Reader, cfg Config) (_ *Capture, err error) {
	f, err := os.CreateTemp(cfg.TempDir, "arxi-openclaw-spool-*")
	if err != nil {
		return nil, errcode.Wrap(errcode.IOFailed, err, "create spool file")
	}
	c := &Capture{cfg: cfg, spool: f, Skipped: map[string]int{}}
	// Unlinked at once where the system allows it, so nothing is left
	// behind even if the process dies.
	if os.Remove(f.Name()) != nil {
		c.path = f.Name()
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	max := cfg.MaxInput
	if max <= 0 {
		max = DefaultMaxInput
	}
	in := &input{r: r, max: max, h: sha256.New()}
	p := &pass1{c: c, d: newDecoder(), t: newTracker(true), w: spoolWriter{w: bufio.NewWriterSize(f, 256<<10)}}
	if err := p.run(ctx, stream.NewLineReader(in, MaxLine)); err != nil {
		return nil, err
	}
	if err := p.w.w.Flush(); err != nil {
		return nil, errcode.Wrap(errcode.IOFailed, err, "write spool file")
	}
	c.InputSHA256 = scalar.Digest(in.h.Sum(nil))
	c.Size = in.n
	t := p.t
	c.findings, c.omitted, c.problems, c.dropped, c.warnings, c.ends = t.findings, t.omitted, t.problems, t.dropped, t.warnings, t.ends
	if t.moreWarnings > 0 {
		c.warnings = append(c.warnings, fmt.Sprintf("and %d more warnings", t.moreWarnings))
	}
	slices.SortStableFunc(c.findings, func(a, b Finding) int { return cmp.Compare(a.Line, b.Line) })
	slices.SortStableFunc(c.problems, func(a, b *errcode.Error) int { return cmp.Compare(a.Line, b.Line) })
	return c, nil
}

// pass1 is the state of Read.
type pass1 struct {
	c  *Capture
	d  *decoder
	t  *tracker
	w  spoolWriter
	tr transcriptState
}

func (p *pass1) run(ctx context.Context, lines *stream.LineReader) error {
	c := p.c
	var ev event
	for {
		line, err := lines.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n := lines.Line()
		c.Lines = n
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return errcode.Wrap(errcode.IOFailed, err, "interrupted at line %d", n)
			}
			if c.cfg.Progress != nil {
				c.cfg.Progress(1024)
			}
		}
		switch c.cfg.Format {
		case Transcript:
			if err := p.transcriptLine(line, n); err != nil {
				return p.fail(err, line, n)
			}
			continue
		case Payloads:
			if err := p.d.payload(line, &ev); err != nil {
				return p.fail(err, line, n)
			}
			p.t.observe(&ev, n, c.cfg.actorOf(ev.actor))
			if err := p.spool(n, -1, &ev, ev.raw, ev.ts); err != nil {
				return err
			}
		default:
			kind, name, fseq, err := p.d.frame(line, &ev)
			if err != nil {
				return p.fail(err, line, n)
			}
			if fseq >= 0 && c.cfg.FrameSeq {
				p.t.frameSeq(n, uint64(fseq))
			}
			switch kind {
			case frameHello:
				p.t.frameNext = 0
				fallthrough
			case frameSkipped:
				if _, ok := c.Skipped[name]; !ok && len(c.Skipped) >= maxSkippedNames {
					name = "other"
				}
				c.Skipped[name]++
				continue
			}
			p.t.observe(&ev, n, c.cfg.actorOf(ev.actor))
			if err := p.spool(n, fseq, &ev, ev.raw, ev.ts); err != nil {
				return err
			}
		}
	}
	if c.cfg.Format == Transcript {
		return p.transcriptEnd()
	}
	p.t.end()
	return nil
}

// fail returns the error of line n; on line 1, an Arxi file given for a
// capture is named as such.
func (p *pass1) fail(err error, line []byte, n int64) error {
	if n == 1 {
		if e := wrongKind(line); e != nil {
			return e
		}
	}
	return errcode.AtLine(err, n)
}

// spool writes one record (ev is nil for a transcript line) whose
// claimed_at is at.
func (p *pass1) spool(line, fseq int64, ev *event, canon []byte, at scalar.Timestamp) error {
	if p.c.Records == 0 {
		p.c.first = at
	}
	p.c.Records++
	return p.w.record(line, fseq, ev, canon)
}

// actorOf is the actor_id of an event that names actor (zero for none).
func (c *Config) actorOf(actor scalar.Label) scalar.Label {
	switch {
	case !c.Actor.IsZero():
		return c.Actor
	case !actor.IsZero():
		return actor
	}
	return scalar.MustLabel(DefaultActor)
}

// input reads the capture, at most max bytes, hashing what it reads, and
// ends a last line without a newline with one, which the hash does not
// cover.
type input struct {
	r       io.Reader
	max     int64
	n       int64
	h       hash.Hash
	last    byte
	eof     bool
	pending bool // the newline to add
}

func (in *input) Read(p []byte) (int, error) {
	if in.eof {
		if in.pending && len(p) > 0 {
			in.pending = false
			p[0] = '\n'
			return 1, nil
		}
		return 0, io.EOF
	}
	k, err := in.r.Read(p)
	if k > 0 {
		if in.n+int64(k) > in.max {
			return 0, &errcode.Error{Code: errcode.InputTooLarge, Msg: "input exceeds " + strconv.FormatInt(in.max, 10) + " bytes", Hint: "raise --max-input"}
		}
		in.h.Write(p[:k])
		in.n += int64(k)
		in.last = p[k-1]
	}
	if errors.Is(err, io.EOF) {
		in.eof, in.pending = true, in.n > 0 && in.last != '\n'
		if k > 0 {
			return k, nil
		}
		return in.Read(p)
	}
	if err != nil {
		return k, fmt.Errorf("read input: %w", err)
	}
	return k, nil
}
