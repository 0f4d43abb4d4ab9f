package store

import (
	"context"
	"errors"
	"io"
	"runtime"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/stream"
)

// DefaultBatch is the default number of envelopes per transaction.
const DefaultBatch = 1000

// AppendOptions configures AppendStream.
type AppendOptions struct {
	// Batch is the number of envelopes per transaction; 0 means
	// DefaultBatch.
	Batch int
	// Limits bound the input lines; zero fields take the defaults.
	Limits evidence.Limits
	// Receipts, when set, is called after each durable commit with the
	// batch's receipts in order.
	Receipts func([]Receipt) error
	// Progress, when set, is called with the number of envelopes committed
	// by each batch.
	Progress func(n int)
}

// AppendStats says how far AppendStream got: the store holds every record
// of the input up to and including line Line.
type AppendStats struct {
	Line      int64    // the last input line committed; 0 if none
	Envelopes int64    // envelopes committed
	Last      *Receipt // the last envelope committed, nil if none
}

// AppendStream reads a sealed stream (SPEC §6) from r and appends it with
// a, committing every opts.Batch envelopes and at the end. On a bad line it
// rolls back the open batch and returns the error, naming the line, with
// stats saying how far the store is committed.
//
// With more than one CPU (GOMAXPROCS > 1) a goroutine reads and decodes
// the lines ahead of the writes; it stops at the end of r, at the first
// bad line, or when AppendStream returns (once a pending Read of r
// returns).
func AppendStream(ctx context.Context, a *Appender, r io.Reader, opts AppendOptions) (AppendStats, error) {
	var st AppendStats
	batch := opts.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	in := stream.NewReader(r, stream.Sealed, opts.Limits)
	next := in.Next
	raw, line := in.Raw, in.Line
	if runtime.GOMAXPROCS(0) > 1 {
		ra := newReadAhead(in)
		defer ra.stop()
		next, raw, line = ra.next, ra.raw, ra.line
	}
	var g stream.Grammar
	commit := func(line int64) error {
		rs, err := a.Commit(ctx)
		if err != nil {
			return errcode.AtLine(err, line)
		}
		st.Line = line
		if len(rs) == 0 {
			return nil
		}
		st.Envelopes += int64(len(rs))
		last := rs[len(rs)-1]
		st.Last = &last
		if opts.Progress != nil {
			opts.Progress(len(rs))
		}
		if opts.Receipts != nil {
			return opts.Receipts(rs)
		}
		return nil
	}
	fail := func(err error) (AppendStats, error) {
		a.Rollback()
		return st, err
	}
	for n := 0; ; n++ {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return fail(errcode.Wrap(errcode.IOFailed, err, "interrupted at line %d", line()+1))
			}
		}
		rec, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		if err := g.Next(rec.Kind()); err != nil {
			return fail(errcode.AtLine(err, line()))
		}
		if err := a.add(ctx, rec, raw()); err != nil {
			return fail(errcode.AtLine(err, line()))
		}
		if rec.Kind() == evidence.KindEnvelope && a.Pending() >= batch {
			if err := commit(line()); err != nil {
				return fail(err)
			}
		}
	}
	if err := g.End(); err != nil {
		return fail(errcode.AtLine(err, line()))
	}
	if err := commit(line()); err != nil {
		return fail(err)
	}
	return st, nil
}

// readAhead decodes a stream in a goroutine, a chunk of records at a
// time, so decoding overlaps the writes on another CPU. next, raw and line
// behave as the stream.Reader methods they stand for.
type readAhead struct {
	chunks chan aheadChunk
	done   chan struct{}
	cur    aheadChunk
	i      int
	last   int64
}

type aheadChunk struct {
	items []aheadItem
	err   error // after the items: io.EOF at the end, or the bad line's error
}

type aheadItem struct {
	rec  evidence.Record
	raw  []byte
	line int64
}

const aheadChunkSize = 256

func newReadAhead(in *stream.Reader) *readAhead {
	ra := &readAhead{chunks: make(chan aheadChunk, 4), done: make(chan struct{}), i: -1}
	go func() {
		defer close(ra.chunks)
		for {
			var c aheadChunk
			for len(c.items) < aheadChunkSize {
				rec, err := in.Next()
				if err != nil {
					c.err = err
					break
				}
				c.items = append(c.items, aheadItem{rec: rec, raw: in.Raw(), line: in.Line()})
			}
			select {
			case ra.chunks <- c:
			case <-ra.done:
				return
			}
			if c.err != nil {
				return
			}
		}
	}()
	return ra
}

func (ra *readAhead) next() (evidence.Record, error) {
	ra.i++
	for ra.i >= len(ra.cur.items) {
		if ra.cur.err != nil {
			ra.i = len(ra.cur.items)
			return nil, ra.cur.err
		}
		c, ok := <-ra.chunks
		if !ok {
			return nil, io.EOF
		}
		ra.cur, ra.i = c, 0
	}
	ra.last = ra.cur.items[ra.i].line
	return ra.cur.items[ra.i].rec, nil
}

func (ra *readAhead) raw() []byte { return ra.cur.items[ra.i].raw }

// line is the line of the last record returned.
func (ra *readAhead) line() int64 { return ra.last }

func (ra *readAhead) stop() { close(ra.done) }
