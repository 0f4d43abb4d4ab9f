package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"regexp"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tx is the writer's transaction on the writer's connection. Envelope
// rows stream to the server in a COPY that runs while the store layer
// checks the next records, so the client's work and the server's overlap;
// any other statement of the transaction first ends the COPY (see
// copyStream), and so does a buffer of flushBytes of row values.
type tx struct {
	view
	cp       *copyStream // the COPY in flight; nil when none
	arena    []byte      // the payloads, attachments and signatures of the COPY's rows
	postings postings    // the labels of the rows written since the last flush
	done     bool
}

// flushBytes bounds the row values held for one COPY.
const flushBytes = 4 << 20

// bg is the context of row writes: the store layer checks cancellation
// between batches, and a write half done is rolled back anyway.
var bg = context.Background()

func uniqueViolation(err error) (*pgconn.PgError, bool) {
	var pe *pgconn.PgError
	return pe, errors.As(err, &pe) && pe.Code == "23505"
}

func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// idle ends the COPY in flight, so the connection can run another
// statement.
func (t *tx) idle() error {
	if t.cp == nil {
		return nil
	}
	err := t.cp.end()
	t.cp, t.arena = nil, t.arena[:0]
	return t.err("write envelopes", err)
}

func (t *tx) AddSegment(ctx context.Context, s *store.SegmentRow) error {
	if err := t.idle(); err != nil {
		return err
	}
	_, err := t.tx.Exec(bg, "INSERT INTO arxi.segments (log_id, "+segmentCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		t.db.log, s.Order, [16]byte(s.ID), int64(s.FirstPosition), s.Genesis, s.GenesisHash[:], int64(s.Count), s.Head[:], nullable(s.Seal))
	if pe, ok := uniqueViolation(err); ok {
		switch pe.ConstraintName {
		case "segments_log_id_segment_id_key":
			return &errcode.Error{Code: errcode.StoreDuplicate, Field: "segment_id", Segment: s.ID.String(), Msg: "a segment with this id is already stored"}
		case "segments_one_open":
			return &errcode.Error{Code: errcode.SegmentAlreadyOpen, Segment: s.ID.String(), Msg: "another segment is open"}
		}
	}
	return t.err("write segment", err)
}

func (t *tx) UpdateSegment(ctx context.Context, s *store.SegmentRow) error {
	if err := t.idle(); err != nil {
		return err
	}
	tag, err := t.tx.Exec(bg, "UPDATE arxi.segments SET envelope_count = $1, head = $2, seal = $3 WHERE log_id = $4 AND seq = $5",
		int64(s.Count), s.Head[:], nullable(s.Seal), t.db.log, s.Order)
	if err == nil && tag.RowsAffected() != 1 {
		return errcode.New(errcode.Internal, "no segment %d to update", s.Order)
	}
	return t.err("write segment", err)
}

func (t *tx) AddBlob(ctx context.Context, h scalar.Digest, data []byte) error {
	if err := t.idle(); err != nil {
		return err
	}
	tag, err := t.tx.Exec(bg, "INSERT INTO arxi.attachments (log_id, hash, data) VALUES ($1, $2, $3) ON CONFLICT (log_id, hash) DO NOTHING", t.db.log, h[:], data)
	if err != nil {
		return t.err("write attachment", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	old, err := t.Blob(ctx, h)
	if err != nil {
		return err
	}
	if !bytes.Equal(old, data) {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: "attachments row " + h.String() + ": stored bytes differ from a blob with the same hash"}
	}
	return nil
}

// AddEnvelope implements store.Tx: the row goes to the COPY in flight,
// started if need be, its slices copied.
func (t *tx) AddEnvelope(ctx context.Context, e *store.EnvelopeRow) error {
	size := len(e.Payload) + len(e.Attachments) + len(e.Signatures)
	if t.cp != nil && len(t.arena)+size > flushBytes {
		if err := t.idle(); err != nil {
			return err
		}
	}
	if t.cp == nil {
		t.cp = startCopy(t.tx, t.db.log)
	}
	r := *e
	for _, b := range []*[]byte{&r.Payload, &r.Attachments, &r.Signatures} {
		if *b != nil {
			start := len(t.arena)
			t.arena = append(t.arena, *b...)
			*b = t.arena[start:len(t.arena):len(t.arena)]
		}
	}
	if err := t.cp.add(r); err != nil {
		t.cp.end()
		t.cp = nil
		return t.err("write envelopes", err)
	}
	t.postings.add(e)
	return nil
}

// flushPostings ends the COPY in flight and writes the postings of its
// rows.
func (t *tx) flushPostings() error {
	if err := t.idle(); err != nil {
		return err
	}
	return t.err("write postings", t.postings.flush(t.tx, t.db.log))
}

// copyEnvelopes is the COPY of envelope rows, in PostgreSQL's binary
// COPY format: each field is its type's binary form (the same bytes pgx
// writes), encoded here without pgx's per-value type lookup, which cost
// the writer about a tenth of its CPU.
const copyEnvelopes = "COPY arxi.envelopes (log_id, position, segment, envelope_id, content_hash, chain_hash, " +
	"event_type, actor_id, environment_id, adapter_id, trace_id, session_id, claimed_at, claimed_ns, " +
	"payload, attachments, signatures) FROM STDIN BINARY"

// copyStream is a COPY of envelope rows running in a goroutine of its
// own, fed row by row through a channel: the rows reach the server while
// the writer prepares the next ones. Only the goroutine uses the
// connection until end returns.
type copyStream struct {
	log     int32
	rows    chan *store.EnvelopeRow
	stopped chan struct{} // closed when the COPY has returned
	err     error         // the COPY's error, once stopped
	sent    []store.EnvelopeRow
	pend    []byte // encoded bytes not yet read, from off
	off     int
	eof     bool
}

func startCopy(tx pgx.Tx, log int32) *copyStream {
	cp := &copyStream{log: log, rows: make(chan *store.EnvelopeRow, 256), stopped: make(chan struct{})}
	cp.pend = append(cp.pend, "PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"...) // signature, flags, no header extension
	go func() {
		_, err := tx.Conn().PgConn().CopyFrom(bg, cp, copyEnvelopes)
		cp.err = err
		close(cp.stopped)
	}()
	return cp
}

// add hands a row to the COPY; it fails when the COPY has already failed.
func (cp *copyStream) add(r store.EnvelopeRow) error {
	cp.sent = append(cp.sent, r)
	select {
	case cp.rows <- &cp.sent[len(cp.sent)-1]:
		return nil
	case <-cp.stopped:
		return cp.error()
	}
}

// end finishes the COPY and waits for it.
func (cp *copyStream) end() error {
	close(cp.rows)
	<-cp.stopped
	return cp.error()
}

// Read implements io.Reader for the COPY, in the goroutine: it fills p
// with encoded rows (pgconn sends each Read as one message), waiting for
// rows until p is full or the rows end.
func (cp *copyStream) Read(p []byte) (int, error) {
	n := 0
	for {
		if cp.off < len(cp.pend) {
			k := copy(p[n:], cp.pend[cp.off:])
			n, cp.off = n+k, cp.off+k
			if n == len(p) {
				return n, nil
			}
		}
		if cp.eof {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		r := <-cp.rows
		cp.pend, cp.off = cp.pend[:0], 0
		if r == nil {
			cp.pend, cp.eof = append(cp.pend, 0xff, 0xff), true // the trailer
			continue
		}
		cp.pend = appendCopyRow(cp.pend, cp.log, r)
	}
}

// pgEpoch is PostgreSQL's timestamp epoch in Unix microseconds.
const pgEpoch = 946_684_800_000_000

// appendCopyRow appends the binary COPY tuple of envelope row r of log.
func appendCopyRow(b []byte, log int32, r *store.EnvelopeRow) []byte {
	be := binary.BigEndian
	field := func(v []byte) {
		b = be.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	str := func(v string) {
		b = be.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	text := func(v string) {
		if v == "" {
			b = be.AppendUint32(b, 0xffffffff) // NULL
			return
		}
		str(v)
	}
	bytea := func(v []byte) {
		if v == nil {
			b = be.AppendUint32(b, 0xffffffff)
			return
		}
		field(v)
	}
	at, ns := splitTime(r.ClaimedAt)
	b = be.AppendUint16(b, 17)
	b = be.AppendUint32(be.AppendUint32(b, 4), uint32(log))
	b = be.AppendUint64(be.AppendUint32(b, 8), r.Position)
	b = be.AppendUint64(be.AppendUint32(b, 8), uint64(r.Segment))
	field(r.EnvelopeID[:])
	field(r.ContentHash[:])
	field(r.ChainHash[:])
	str(r.EventType)
	str(r.ActorID)
	str(r.EnvironmentID)
	str(r.AdapterID)
	text(r.TraceID)
	text(r.SessionID)
	b = be.AppendUint64(be.AppendUint32(b, 8), uint64(at.UnixMicro()-pgEpoch))
	b = be.AppendUint16(be.AppendUint32(b, 2), uint16(ns))
	field(r.Payload)
	bytea(r.Attachments)
	bytea(r.Signatures)
	return b
}

var duplicateKey = regexp.MustCompile(`\(log_id, envelope_id\)=\(\d+, ([0-9a-f-]{36})\)`)

// error maps the COPY's error: a duplicate envelope id names the
// envelope.
func (cp *copyStream) error() error {
	err := cp.err
	if pe, ok := uniqueViolation(err); ok && pe.ConstraintName == "envelopes_log_id_envelope_id_key" {
		e := &errcode.Error{Code: errcode.StoreDuplicate, Field: "envelope_id", Msg: "an envelope id of this batch is already stored"}
		if m := duplicateKey.FindStringSubmatch(pe.Detail); m != nil {
			e.Msg = "envelope " + m[1] + " is already stored"
			// The row that failed: the only one of the batch with the id,
			// or the second (when the first was stored too, it failed
			// first, and is named a row late).
			var at *store.EnvelopeRow
			n := 0
			for i := range cp.sent {
				if r := &cp.sent[i]; r.EnvelopeID.String() == m[1] && n < 2 {
					at, n = r, n+1
				}
			}
			if at != nil {
				return &store.RowError{Position: at.Position, Err: e}
			}
		}
		return e
	}
	if err != nil {
		return &copyError{err}
	}
	return nil
}

// copyError marks a COPY's error for tx.err.
type copyError struct{ error }

func (e *copyError) Unwrap() error { return e.error }

func (t *tx) err(what string, err error) error {
	var ce *copyError
	if errors.As(err, &ce) {
		return t.view.err("write envelopes", ce.error)
	}
	return t.view.err(what, err)
}

// The reads of a transaction end the COPY first; they see its rows.

func (t *tx) Envelopes(ctx context.Context, q store.Query, fn func(*store.EnvelopeRow) error) error {
	if err := t.idle(); err != nil {
		return err
	}
	if hasLabels(&q) {
		if err := t.flushPostings(); err != nil {
			return err
		}
	}
	return t.view.Envelopes(ctx, q, fn)
}

func (t *tx) Segments(ctx context.Context, from int64, fn func(*store.SegmentRow) error) error {
	if err := t.idle(); err != nil {
		return err
	}
	return t.view.Segments(ctx, from, fn)
}

func (t *tx) SegmentByID(ctx context.Context, id scalar.UUID) (*store.SegmentRow, error) {
	if err := t.idle(); err != nil {
		return nil, err
	}
	return t.view.SegmentByID(ctx, id)
}

func (t *tx) LastSegment(ctx context.Context) (*store.SegmentRow, error) {
	if err := t.idle(); err != nil {
		return nil, err
	}
	return t.view.LastSegment(ctx)
}

func (t *tx) Blob(ctx context.Context, h scalar.Digest) ([]byte, error) {
	if err := t.idle(); err != nil {
		return nil, err
	}
	return t.view.Blob(ctx, h)
}

func (t *tx) BlobSize(ctx context.Context, h scalar.Digest) (int64, error) {
	if err := t.idle(); err != nil {
		return 0, err
	}
	return t.view.BlobSize(ctx, h)
}

func (t *tx) Meta(ctx context.Context, key string) (string, error) {
	if err := t.idle(); err != nil {
		return "", err
	}
	return t.view.Meta(ctx, key)
}

func (t *tx) Idempotency(ctx context.Context, key string) (*store.IdempotencyRow, error) {
	if err := t.idle(); err != nil {
		return nil, err
	}
	return t.view.Idempotency(ctx, key)
}

func (t *tx) SetMeta(ctx context.Context, key, value string) error {
	if err := t.idle(); err != nil {
		return err
	}
	_, err := t.tx.Exec(bg, "INSERT INTO arxi.store_meta (log_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (log_id, key) DO UPDATE SET value = excluded.value",
		t.db.log, key, value)
	return t.err("write store_meta", err)
}

func (t *tx) PutIdempotency(ctx context.Context, r *store.IdempotencyRow) error {
	if err := t.idle(); err != nil {
		return err
	}
	if _, err := t.tx.Exec(bg, "DELETE FROM arxi.idempotency WHERE log_id = $1 AND key = $2", t.db.log, r.Key); err != nil {
		return t.err("write idempotency record", err)
	}
	at, ns := splitTime(r.CreatedAt)
	err := t.tx.QueryRow(bg, `INSERT INTO arxi.idempotency (log_id, seq, key, request_hash, status, content_type, body, created_at, created_ns)
		SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8 FROM arxi.idempotency WHERE log_id = $1 RETURNING seq`,
		t.db.log, r.Key, r.RequestHash[:], int32(r.Status), r.ContentType, r.Body, at, ns).Scan(&r.Seq)
	return t.err("write idempotency record", err)
}

func (t *tx) PruneIdempotency(ctx context.Context, before scalar.Timestamp, keep int) (int, error) {
	if err := t.idle(); err != nil {
		return 0, err
	}
	at, ns := splitTime(before)
	a, err := t.tx.Exec(bg, "DELETE FROM arxi.idempotency WHERE log_id = $1 AND (created_at, created_ns) < ($2, $3)", t.db.log, at, ns)
	if err != nil {
		return 0, t.err("prune idempotency records", err)
	}
	// seq grows with every insert, so the newest keep records are those
	// with the keep largest seq values.
	b, err := t.tx.Exec(bg, `DELETE FROM arxi.idempotency WHERE log_id = $1 AND seq <= (
		SELECT seq FROM arxi.idempotency WHERE log_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)`, t.db.log, int64(keep))
	if err != nil {
		return 0, t.err("prune idempotency records", err)
	}
	return int(a.RowsAffected() + b.RowsAffected()), nil
}

// commitTimeout bounds a commit: long enough for a slow disk, short
// enough that a writer whose server vanished says so.
const commitTimeout = 5 * time.Minute

// Commit implements store.Tx. With synchronous_commit on, the server
// returns from COMMIT once the transaction's write-ahead log is flushed
// to disk.
func (t *tx) Commit() error {
	if t.done {
		return errcode.New(errcode.Internal, "transaction already finished")
	}
	if err := t.flushPostings(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(bg, commitTimeout)
	defer cancel()
	if err := t.tx.Commit(ctx); err != nil {
		// A commit whose answer was lost may have happened: the store holds
		// this batch or not, never part of it.
		return t.err("commit", err)
	}
	t.finish()
	return nil
}

func (t *tx) finish() {
	t.done = true
	t.db.mu.Lock()
	if t.db.cur == t {
		t.db.cur = nil
	}
	t.db.mu.Unlock()
}

// Close implements store.Tx: it rolls back unless committed.
func (t *tx) Close() error {
	if t.done {
		return nil
	}
	t.idle()
	t.tx.Rollback(bg)
	t.finish()
	return nil
}
