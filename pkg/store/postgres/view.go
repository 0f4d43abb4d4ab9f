package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"github.com/jackc/pgx/v5"
)

// view reads one log through one transaction. Walks read in chunks by
// position (keyset pages of one snapshot), so the connection is free
// between chunks and the callback may query again.
type view struct {
	db     *DB
	tx     pgx.Tx
	closed bool
}

func (v *view) err(what string, err error) error {
	if err == nil || errors.Is(err, errStop) {
		return nil
	}
	return v.db.err(what, err)
}

var errStop = errors.New("stop")

const segmentCols = "seq, segment_id, first_position, genesis, genesis_hash, envelope_count, head, seal"

const segmentChunk = 256

func (v *view) Segments(ctx context.Context, from int64, fn func(*store.SegmentRow) error) error {
	for {
		rows, err := v.segments(ctx, "SELECT "+segmentCols+" FROM arxi.segments WHERE log_id = $1 AND seq >= $2 ORDER BY seq LIMIT "+strconv.Itoa(segmentChunk), v.db.log, from)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				if errors.Is(err, store.ErrStop) {
					return nil
				}
				return err
			}
		}
		if len(rows) < segmentChunk {
			return nil
		}
		from = rows[len(rows)-1].Order + 1
	}
}

func (v *view) segments(ctx context.Context, sql string, args ...any) ([]*store.SegmentRow, error) {
	rows, err := v.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, v.err("read segments", err)
	}
	defer rows.Close()
	var out []*store.SegmentRow
	for rows.Next() {
		var r store.SegmentRow
		var first, count int64
		var id [16]byte
		var genesisHash, head []byte
		if err := rows.Scan(&r.Order, &id, &first, &r.Genesis, &genesisHash, &count, &head, &r.Seal); err != nil {
			return nil, &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("segments row after %d: %v", lastOrder(out), err)}
		}
		fail := func(col, msg string) error {
			return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("segments row %d: column %s: %s", r.Order, col, msg)}
		}
		r.ID = id
		switch {
		case first < 1:
			return nil, fail("first_position", "want a positive integer")
		case count < 0:
			return nil, fail("envelope_count", "want a non-negative integer")
		case len(genesisHash) != 32:
			return nil, fail("genesis_hash", fmt.Sprintf("want 32 bytes, have %d", len(genesisHash)))
		case len(head) != 32:
			return nil, fail("head", fmt.Sprintf("want 32 bytes, have %d", len(head)))
		}
		r.FirstPosition, r.Count = uint64(first), uint64(count)
		copy(r.GenesisHash[:], genesisHash)
		copy(r.Head[:], head)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, v.err("read segments", err)
	}
	return out, nil
}

func lastOrder(rows []*store.SegmentRow) int64 {
	if len(rows) == 0 {
		return 0
	}
	return rows[len(rows)-1].Order
}

func (v *view) segment(ctx context.Context, sql string, args ...any) (*store.SegmentRow, error) {
	rows, err := v.segments(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, store.ErrNotFound
	}
	return rows[0], nil
}

func (v *view) SegmentByID(ctx context.Context, id scalar.UUID) (*store.SegmentRow, error) {
	return v.segment(ctx, "SELECT "+segmentCols+" FROM arxi.segments WHERE log_id = $1 AND segment_id = $2", v.db.log, [16]byte(id))
}

func (v *view) LastSegment(ctx context.Context) (*store.SegmentRow, error) {
	return v.segment(ctx, "SELECT "+segmentCols+" FROM arxi.segments WHERE log_id = $1 ORDER BY seq DESC LIMIT 1", v.db.log)
}

const (
	keyCols      = "position, segment, envelope_id, content_hash, chain_hash"
	envelopeCols = keyCols + ", event_type, actor_id, environment_id, adapter_id, trace_id, session_id, claimed_at, claimed_ns, payload, attachments, signatures"
)

// Rows per chunk of an envelope walk: about 512 KiB of 1 KiB lines.
const (
	envelopeChunk = 512
	keyChunk      = 8192
)

// splitTime turns a timestamp into the claimed_at and claimed_ns
// columns: the time to the microsecond and the nanoseconds beyond it.
func splitTime(t scalar.Timestamp) (time.Time, int16) {
	tt := t.Time()
	us := tt.Truncate(time.Microsecond)
	return us, int16(tt.Sub(us))
}

// envelopeSQL builds the query of one chunk of q from position from: of
// the rows at the positions cands when cands is not nil (found in the
// postings), with the label filters applied to the rows again.
func (v *view) envelopeSQL(q *store.Query, from uint64, limit int, cands []int64) (string, []any) {
	var b strings.Builder
	args := []any{v.db.log, int64(from)}
	arg := func(a any) string {
		args = append(args, a)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString("SELECT ")
	if q.KeysOnly {
		b.WriteString(keyCols)
	} else {
		b.WriteString(envelopeCols)
	}
	b.WriteString(" FROM arxi.envelopes WHERE log_id = $1 AND position >= $2")
	if q.To != 0 {
		b.WriteString(" AND position <= " + arg(int64(q.To)))
	}
	if cands != nil {
		b.WriteString(" AND position = ANY(" + arg(cands) + ")")
	}
	for _, f := range []struct {
		col  string
		vals []string
	}{{"event_type", q.EventTypes}, {"actor_id", q.ActorIDs}, {"environment_id", q.EnvironmentIDs}, {"adapter_id", q.AdapterIDs},
		{"trace_id", q.TraceIDs}, {"session_id", q.SessionIDs}} {
		switch len(f.vals) {
		case 0:
		case 1:
			// One value as a plain equality, so the planner sees it.
			b.WriteString(" AND " + f.col + " = " + arg(f.vals[0]))
		default:
			b.WriteString(" AND " + f.col + " = ANY(" + arg(f.vals) + ")")
		}
	}
	// The plain bounds on claimed_at are what the block range index can
	// use; the row comparisons are exact to the nanosecond.
	if q.Since != nil {
		at, ns := splitTime(*q.Since)
		a := arg(at)
		b.WriteString(" AND claimed_at >= " + a + " AND (claimed_at, claimed_ns) >= (" + a + ", " + arg(ns) + ")")
	}
	if q.Until != nil {
		at, ns := splitTime(*q.Until)
		a := arg(at)
		b.WriteString(" AND claimed_at <= " + a + " AND (claimed_at, claimed_ns) < (" + a + ", " + arg(ns) + ")")
	}
	b.WriteString(" ORDER BY position LIMIT " + strconv.Itoa(limit))
	return b.String(), args
}

// arenaBytes scans a bytea into a shared buffer instead of a new slice
// per value.
type arenaBytes struct {
	arena *[]byte
	dst   *[]byte
}

func (a arenaBytes) ScanBytes(v []byte) error {
	if v == nil {
		*a.dst = nil
		return nil
	}
	start := len(*a.arena)
	*a.arena = append(*a.arena, v...)
	*a.dst = (*a.arena)[start:len(*a.arena):len(*a.arena)]
	return nil
}

func (v *view) Envelopes(ctx context.Context, q store.Query, fn func(*store.EnvelopeRow) error) error {
	if q.From < 1 {
		q.From = 1
	}
	chunk := envelopeChunk
	if q.KeysOnly {
		chunk = keyChunk
	}
	if hasLabels(&q) {
		err := v.labelEnvelopes(ctx, &q, chunk, fn)
		if errors.Is(err, store.ErrStop) {
			return nil
		}
		return err
	}
	var arena []byte
	var batch []store.EnvelopeRow
	from, n := q.From, 0
	for {
		limit := chunk
		if q.Limit > 0 {
			limit = min(limit, q.Limit-n)
		}
		var err error
		arena, batch = arena[:0], batch[:0]
		if batch, err = v.envelopeChunk(ctx, &q, from, limit, nil, &arena, batch); err != nil {
			return err
		}
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				if errors.Is(err, store.ErrStop) {
					return nil
				}
				return err
			}
		}
		n += len(batch)
		if len(batch) < limit || (q.Limit > 0 && n >= q.Limit) {
			return nil
		}
		from = batch[len(batch)-1].Position + 1
		if q.To != 0 && from > q.To {
			return nil
		}
	}
}

// envelopeChunk reads up to limit rows of q from position from (at cands,
// when not nil).
func (v *view) envelopeChunk(ctx context.Context, q *store.Query, from uint64, limit int, cands []int64, arena *[]byte, out []store.EnvelopeRow) ([]store.EnvelopeRow, error) {
	sql, args := v.envelopeSQL(q, from, limit, cands)
	rows, err := v.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, v.err("read envelopes", err)
	}
	defer rows.Close()
	var pos, seg int64
	var id [16]byte
	var content, chain []byte
	var trace, session *string
	var claimed time.Time
	var ns int16
	var r store.EnvelopeRow
	dst := []any{&pos, &seg, &id, arenaBytes{arena, &content}, arenaBytes{arena, &chain}}
	if !q.KeysOnly {
		dst = append(dst, &r.EventType, &r.ActorID, &r.EnvironmentID, &r.AdapterID, &trace, &session, &claimed, &ns,
			arenaBytes{arena, &r.Payload}, arenaBytes{arena, &r.Attachments}, arenaBytes{arena, &r.Signatures})
	}
	for rows.Next() {
		r = store.EnvelopeRow{}
		trace, session = nil, nil
		if err := rows.Scan(dst...); err != nil {
			return nil, &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("envelopes row after %d: %v", from+uint64(len(out))-1, err)}
		}
		fail := func(col, msg string) error {
			return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("envelopes row %d: column %s: %s", pos, col, msg)}
		}
		switch {
		case pos < 1:
			return nil, fail("position", "want a positive integer")
		case len(content) != 32:
			return nil, fail("content_hash", fmt.Sprintf("want 32 bytes, have %d", len(content)))
		case len(chain) != 32:
			return nil, fail("chain_hash", fmt.Sprintf("want 32 bytes, have %d", len(chain)))
		}
		r.Position, r.Segment, r.EnvelopeID = uint64(pos), seg, id
		copy(r.ContentHash[:], content)
		copy(r.ChainHash[:], chain)
		if !q.KeysOnly {
			if trace != nil {
				r.TraceID = *trace
			}
			if session != nil {
				r.SessionID = *session
			}
			if ns < 0 || ns > 999 {
				return nil, fail("claimed_ns", "want 0 to 999")
			}
			if r.ClaimedAt, err = scalar.TimestampOf(claimed.UTC().Add(time.Duration(ns))); err != nil {
				return nil, fail("claimed_at", err.Error())
			}
			if r.Payload == nil {
				return nil, fail("payload", "is null")
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, v.err("read envelopes", err)
	}
	return out, nil
}

func (v *view) Blob(ctx context.Context, h scalar.Digest) ([]byte, error) {
	var data []byte
	err := v.tx.QueryRow(ctx, "SELECT data FROM arxi.attachments WHERE log_id = $1 AND hash = $2", v.db.log, h[:]).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, v.err("read attachment", err)
	}
	if data == nil {
		return nil, &errcode.Error{Code: errcode.StoreCorrupt, Msg: "attachments row " + h.String() + ": column data: is null"}
	}
	return data, nil
}

func (v *view) BlobSize(ctx context.Context, h scalar.Digest) (int64, error) {
	var n int64
	err := v.tx.QueryRow(ctx, "SELECT coalesce(length(data), -1) FROM arxi.attachments WHERE log_id = $1 AND hash = $2", v.db.log, h[:]).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	if err != nil {
		return 0, v.err("read attachment", err)
	}
	return n, nil
}

func (v *view) Meta(ctx context.Context, key string) (string, error) {
	var val string
	err := v.tx.QueryRow(ctx, "SELECT value FROM arxi.store_meta WHERE log_id = $1 AND key = $2", v.db.log, key).Scan(&val)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", v.err("read store_meta", err)
	}
	return val, nil
}

const idempotencyCols = "seq, key, request_hash, status, content_type, body, created_at, created_ns"

func (v *view) Idempotency(ctx context.Context, key string) (*store.IdempotencyRow, error) {
	var r store.IdempotencyRow
	var hash []byte
	var status int32
	var at time.Time
	var ns int16
	err := v.tx.QueryRow(ctx, "SELECT "+idempotencyCols+" FROM arxi.idempotency WHERE log_id = $1 AND key = $2", v.db.log, key).
		Scan(&r.Seq, &r.Key, &hash, &status, &r.ContentType, &r.Body, &at, &ns)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, v.err("read idempotency record", err)
	}
	fail := func(col, msg string) error {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("idempotency row %s: column %s: %s", strconv.Quote(key), col, msg)}
	}
	if len(hash) != 32 {
		return nil, fail("request_hash", fmt.Sprintf("want 32 bytes, have %d", len(hash)))
	}
	copy(r.RequestHash[:], hash)
	r.Status = int(status)
	if ns < 0 || ns > 999 {
		return nil, fail("created_ns", "want 0 to 999")
	}
	if r.CreatedAt, err = scalar.TimestampOf(at.UTC().Add(time.Duration(ns))); err != nil {
		return nil, fail("created_at", err.Error())
	}
	if r.Body == nil {
		r.Body = []byte{}
	}
	return &r, nil
}

// Close ends the read transaction and returns the connection to the
// pool.
func (v *view) Close() error {
	if v.closed {
		return nil
	}
	v.closed = true
	v.tx.Rollback(context.Background())
	return nil
}
