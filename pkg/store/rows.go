package store

import (
	"context"
	"runtime"
	"sync"

	"arxi.dev/arxi/internal/arena"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// Reading rows back costs more than fetching them: every value is checked,
// the content hash recomputed, the line written. checkedEnvelopes spreads
// that work over GOMAXPROCS goroutines and hands the envelopes back in
// position order, so a walk over a segment (its chain stays sequential)
// runs at the speed of the backend's reads. The reads themselves run on a
// goroutine of their own, a few batches ahead, so that fetching rows and
// what the caller does with them (the chain, writing a bundle) overlap.

// rowBatch is a run of rows read in order, and what checking them gave.
type rowBatch struct {
	rows  []EnvelopeRow
	envs  []checkedRow
	lines []byte // the checked lines, reused once the batch is delivered
	err   error  // the fetch failed: the batch holds the rows before the failure
	ready chan struct{}
}

type checkedRow struct {
	env  *evidence.Envelope
	line []byte
	err  error
}

const rowBatchSize = 128

// lineOverhead is about what an envelope's line holds besides its payload
// and attachments: the buffer of a batch's lines is sized with it.
const lineOverhead = 640

// cloneRow copies a row out of the backend's memory, valid only during
// its callback, into a batch's arena: the envelopes checked from the rows
// may share it, since it is never written again.
func cloneRow(a *arena.Arena, r *EnvelopeRow) EnvelopeRow {
	c := *r
	for _, s := range []*string{&c.EventType, &c.ActorID, &c.EnvironmentID, &c.AdapterID, &c.TraceID, &c.SessionID} {
		*s = a.String(*s)
	}
	c.Payload, c.Attachments, c.Signatures = a.Bytes(r.Payload), a.Bytes(r.Attachments), a.Bytes(r.Signatures)
	return c
}

// check checks the batch's rows with c, stopping at the first bad one. The
// envelopes share the rows' memory; their lines share one buffer, lines
// if it is large enough.
func (b *rowBatch) check(c *checker, seg segmentInfo, lines []byte) {
	b.envs = make([]checkedRow, len(b.rows))
	envs := make([]evidence.Envelope, len(b.rows))
	size := 0
	for i := range b.rows {
		size += len(b.rows[i].Payload) + len(b.rows[i].Attachments) + lineOverhead
	}
	if cap(lines) < size {
		lines = make([]byte, 0, size)
	}
	lines = lines[:0]
	ends := make([]int, len(b.rows))
	n := len(b.rows)
	for i := range b.rows {
		var err error
		lines, err = c.appendEnvelope(lines, &envs[i], &b.rows[i], seg, true)
		ends[i] = len(lines)
		if err != nil {
			b.envs[i].err = err
			n = i
			break
		}
	}
	b.lines = lines
	start := 0
	for i := range n {
		b.envs[i].env, b.envs[i].line = &envs[i], lines[start:ends[i]:ends[i]]
		start = ends[i]
	}
}

// sharedView lets goroutines use one View in turn: a snapshot's own calls
// and the row fetcher of a walk (checkedEnvelopes) each have one over the
// same View and mu. Every call holds mu; calls made from within a
// callback of an outer call of the same sharedView (depth > 0) already
// hold it.
type sharedView struct {
	View
	mu    *sync.Mutex
	depth int
}

func (v *sharedView) enter() {
	if v.depth == 0 {
		v.mu.Lock()
	}
	v.depth++
}

func (v *sharedView) leave() {
	v.depth--
	if v.depth == 0 {
		v.mu.Unlock()
	}
}

func (v *sharedView) Segments(ctx context.Context, from int64, fn func(*SegmentRow) error) error {
	v.enter()
	defer v.leave()
	return v.View.Segments(ctx, from, fn)
}

func (v *sharedView) SegmentByID(ctx context.Context, id scalar.UUID) (*SegmentRow, error) {
	v.enter()
	defer v.leave()
	return v.View.SegmentByID(ctx, id)
}

func (v *sharedView) LastSegment(ctx context.Context) (*SegmentRow, error) {
	v.enter()
	defer v.leave()
	return v.View.LastSegment(ctx)
}

func (v *sharedView) Envelopes(ctx context.Context, q Query, fn func(*EnvelopeRow) error) error {
	v.enter()
	defer v.leave()
	return v.View.Envelopes(ctx, q, fn)
}

func (v *sharedView) Blob(ctx context.Context, hash scalar.Digest) ([]byte, error) {
	v.enter()
	defer v.leave()
	return v.View.Blob(ctx, hash)
}

func (v *sharedView) BlobSize(ctx context.Context, hash scalar.Digest) (int64, error) {
	v.enter()
	defer v.leave()
	return v.View.BlobSize(ctx, hash)
}

func (v *sharedView) Meta(ctx context.Context, key string) (string, error) {
	v.enter()
	defer v.leave()
	return v.View.Meta(ctx, key)
}

func (v *sharedView) Idempotency(ctx context.Context, key string) (*IdempotencyRow, error) {
	v.enter()
	defer v.leave()
	return v.View.Idempotency(ctx, key)
}

func (v *sharedView) KeyEpochs(ctx context.Context, fn func(*KeyEpochRow) error) error {
	v.enter()
	defer v.leave()
	return v.View.KeyEpochs(ctx, fn)
}

func (v *sharedView) Close() error {
	v.enter()
	defer v.leave()
	return v.View.Close()
}

// sharedIndexCheck is a backend's IndexCheck, which reads the View it was
// given directly, holding the lock of the snapshot's sharedView.
type sharedIndexCheck struct {
	IndexCheck
	v *sharedView
}

func (c sharedIndexCheck) Row(ctx context.Context, r *EnvelopeRow) error {
	c.v.enter()
	defer c.v.leave()
	return c.IndexCheck.Row(ctx, r)
}

func (c sharedIndexCheck) Finish(ctx context.Context) error {
	c.v.enter()
	defer c.v.leave()
	return c.IndexCheck.Finish(ctx)
}

// checkedEnvelopes reads the envelope rows from..to of segment seg and
// calls fn with each checked envelope and its line, in order, until fn or
// a check fails. fn is called on this goroutine and may use the snapshot:
// while the walk runs, the snapshot's view is shared with the goroutine
// that fetches the rows, a few batches ahead; the checks run on
// GOMAXPROCS others.
func (sn *Snapshot) checkedEnvelopes(ctx context.Context, from, to uint64, seg segmentInfo, fn func(r *checkedRow, pos uint64) error) error {
	if sn.v.depth > 0 {
		// The fetcher could not take the view before the callback
		// returns: no walk starts inside a callback of the view.
		return errcode.New(errcode.Internal, "a walk over envelope rows started inside a callback of the store's view")
	}
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *rowBatch, 2*workers)
	defer close(work)
	// Line buffers of delivered batches, for the workers to reuse.
	free := make(chan []byte, 4*workers)
	for range workers {
		go func() {
			c := newChecker(sn.s.lim)
			for b := range work {
				var lines []byte
				select {
				case lines = <-free:
				default:
				}
				b.check(c, seg, lines)
				close(b.ready)
			}
		}()
	}
	fetchView := &sharedView{View: sn.v.View, mu: sn.v.mu}
	ordered := make(chan *rowBatch, 2*workers)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ordered)
		for next := from; next <= to; {
			b, end := fetchBatch(ctx, fetchView, next, to)
			work <- b // checks the rows before a failed fetch too
			select {
			case ordered <- b:
			case <-stop:
				return
			}
			if b.err != nil || len(b.rows) == 0 {
				return
			}
			next = end + 1
		}
	}()
	defer func() {
		close(stop)
		<-done // the fetcher no longer uses the view
	}()
	for b := range ordered {
		<-b.ready
		if err := deliver(b, free, fn); err != nil || b.err != nil || len(b.rows) == 0 {
			return err // rows missing: the caller's counts tell
		}
	}
	return nil
}

// fetchBatch reads the rows from..min(from+rowBatchSize-1, to) and returns
// them with the last position asked for.
func fetchBatch(ctx context.Context, v *sharedView, from, to uint64) (*rowBatch, uint64) {
	b := &rowBatch{ready: make(chan struct{}), rows: make([]EnvelopeRow, 0, rowBatchSize)}
	end := min(from+rowBatchSize-1, to)
	var a arena.Arena
	b.err = v.Envelopes(ctx, Query{From: from, To: end}, func(r *EnvelopeRow) error {
		if r.Kept {
			b.rows = append(b.rows, *r)
		} else {
			b.rows = append(b.rows, cloneRow(&a, r))
		}
		return nil
	})
	return b, end
}

// deliver calls fn with a checked batch's rows, until a row's check or fn
// fails, and then returns the batch's fetch error, if any. The batch's
// line buffer goes to free for reuse: a line is only valid during fn.
func deliver(b *rowBatch, free chan<- []byte, fn func(r *checkedRow, pos uint64) error) error {
	defer func() {
		select {
		case free <- b.lines:
		default:
		}
	}()
	for i := range b.rows {
		r := &b.envs[i]
		if r.err != nil {
			return r.err
		}
		if err := fn(r, b.rows[i].Position); err != nil {
			return err
		}
	}
	return b.err
}
