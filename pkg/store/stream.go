package store

import (
	"context"
	"errors"
	"io"
	"runtime"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/stream"
)

// signedMark marks an item whose envelope's content hash recomputed and
// which carries a valid signature by key.
type signedMark struct{ key scalar.KeyID }

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
// Each batch is made durable (its fsync) while the next is written;
// opts.Receipts and opts.Progress are called after that, for one batch at
// a time and in order, but not always from the calling goroutine.
//
// Lines are decoded, and content hashes recomputed, by GOMAXPROCS
// goroutines ahead of the writes (stream.Parallel); they stop at the end
// of r, at the first bad line, or when AppendStream returns (once a
// pending Read of r returns).
func AppendStream(ctx context.Context, a *Appender, r io.Reader, opts AppendOptions) (AppendStats, error) {
	var st AppendStats
	batch := opts.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	// With a current key, the decoding goroutines also verify each
	// envelope's signature by it (SPEC §11.1), so the writer checks only
	// a mark; an envelope after a rotation in the same stream, signed by
	// the next key, is verified by the writer.
	work := stream.HashContent
	if cur := a.committed.key; cur.Epoch > 0 {
		k := cur.Key
		work = func(it *stream.Item) {
			stream.HashContent(it)
			if e, ok := it.Record.(*evidence.Envelope); ok && stream.ContentHashed(it) && signedBy(e, k) {
				it.Aux = &signedMark{key: k.KeyID}
			}
		}
	}
	a.hold = true
	defer func() { a.hold = false }()
	in := stream.NewParallel(r, stream.ParallelConfig{Limits: opts.Limits, Workers: runtime.GOMAXPROCS(0), Work: work})
	defer in.Close()
	var g stream.Grammar
	var line int64
	acknowledge := func(rs []Receipt, line int64) error {
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
	// A batch is committed early where the backend can (EarlyBackend):
	// its fsync runs on a goroutine while the next batch's rows are
	// written, and only then are its receipts given, its progress counted
	// and the stats moved past it. One batch is in flight at a time.
	var inflight chan error
	settle := func() error {
		if inflight == nil {
			return nil
		}
		err := <-inflight
		inflight = nil
		return err
	}
	commit := func(line int64) error {
		// The batch before is durable before this one commits, so that at
		// most one batch is ever committed and not acknowledged.
		if err := settle(); err != nil {
			return err
		}
		rs, durable, err := a.CommitEarly(ctx)
		if err != nil {
			return errcode.AtLine(err, line)
		}
		if durable == nil {
			return acknowledge(rs, line)
		}
		done := make(chan error, 1)
		go func() {
			err := durable()
			if err != nil {
				if _, ok := errcode.As(err); !ok {
					err = &errcode.Error{Code: errcode.StoreIO, Msg: "make the batch durable", Err: err}
				}
				err = errcode.AtLine(err, line)
			} else {
				err = acknowledge(rs, line)
			}
			done <- err
		}()
		inflight = done
		return nil
	}
	fail := func(err error) (AppendStats, error) {
		a.Rollback()
		if err2 := settle(); err2 != nil {
			err = err2 // the batch in flight failed first
		}
		return st, err
	}
	for n := 0; ; n++ {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return fail(errcode.Wrap(errcode.IOFailed, err, "interrupted at line %d", line+1))
			}
		}
		it, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		line = it.Line
		rec := it.Record
		if err := g.Next(rec.Kind()); err != nil {
			return fail(errcode.AtLine(err, line))
		}
		a.signed = nil
		hashed := stream.ContentHashed(it)
		if m, ok := it.Aux.(*signedMark); ok {
			hashed, a.signed = true, &m.key
		}
		if err := a.add(ctx, rec, it.Raw, hashed, line); err != nil {
			return fail(errcode.AtLine(err, line))
		}
		if rec.Kind() == evidence.KindEnvelope && a.Pending() >= batch {
			if err := commit(line); err != nil {
				return fail(err)
			}
		}
	}
	if err := g.End(); err != nil {
		return fail(errcode.AtLine(err, line))
	}
	if err := commit(line); err != nil {
		return fail(err)
	}
	if err := settle(); err != nil {
		return st, err
	}
	return st, nil
}
