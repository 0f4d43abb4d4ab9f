package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"arxi.dev/arxi/internal/arena"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
)

// Label kinds, part of a label's identity in the postings.
const (
	kindEventType = 1 + iota
	kindActor
	kindEnvironment
	kindAdapter
	kindTrace
	kindSession
)

// labelID is the postings key of a label: FNV-1a over its kind and text.
// Two labels that collide only share postings rows; every query filters
// the rows it reads exactly, so a collision costs reads, never results.
func labelID(kind int, value string) int64 {
	h := uint64(14695981039346656037)
	h = (h ^ uint64(kind)) * 1099511628211
	for i := 0; i < len(value); i++ {
		h = (h ^ uint64(value[i])) * 1099511628211
	}
	return int64(h)
}

// splitTime turns a timestamp into Unix seconds and nanoseconds, the
// claimed_s and claimed_ns columns.
func splitTime(t scalar.Timestamp) (int64, int64) {
	tt := t.Time()
	return tt.Unix(), int64(tt.Nanosecond())
}

const (
	keyCols      = "position, segment, envelope_id, content_hash, chain_hash"
	envelopeCols = keyCols + ", event_type, actor_id, environment_id, adapter_id, trace_id, session_id, claimed_s, claimed_ns, payload, attachments, signatures"
)

// Column indexes of envelopeCols.
const (
	colEventType = 5 + iota
	colActor
	colEnvironment
	colAdapter
	colTrace
	colSession
	colClaimedS
	colClaimedNS
	colPayload
	colAttachments
	colSignatures
)

// labelKinds turns the label filters of q into postings walkers, one per
// kind.
func (v *view) labelKinds(q *store.Query) []store.AnyOf {
	var kinds []store.AnyOf
	for _, f := range []struct {
		kind int
		vals []string
	}{{kindEventType, q.EventTypes}, {kindActor, q.ActorIDs}, {kindEnvironment, q.EnvironmentIDs},
		{kindAdapter, q.AdapterIDs}, {kindTrace, q.TraceIDs}, {kindSession, q.SessionIDs}} {
		if len(f.vals) == 0 {
			continue
		}
		var k store.AnyOf
		for _, val := range f.vals {
			k = append(k, &postingIter{v: v, label: labelID(f.kind, val)})
		}
		kinds = append(kinds, k)
	}
	return kinds
}

// labelsMatch applies the label filters of q to a row's columns.
func labelsMatch(q *store.Query, cols []arg) bool {
	for _, f := range []struct {
		col  int
		vals []string
	}{{colEventType, q.EventTypes}, {colActor, q.ActorIDs}, {colEnvironment, q.EnvironmentIDs},
		{colAdapter, q.AdapterIDs}, {colTrace, q.TraceIDs}, {colSession, q.SessionIDs}} {
		if len(f.vals) == 0 {
			continue
		}
		if c := &cols[f.col]; c.kind != argText || !slices.Contains(f.vals, c.s) {
			return false
		}
	}
	return true
}

// timeRange turns Since and Until into (seconds, nanoseconds) bounds.
type timeRange struct {
	since, until    bool
	sinceS, sinceNS int64
	untilS, untilNS int64
}

func newTimeRange(q *store.Query) timeRange {
	var r timeRange
	if q.Since != nil {
		r.since = true
		r.sinceS, r.sinceNS = splitTime(*q.Since)
	}
	if q.Until != nil {
		r.until = true
		r.untilS, r.untilNS = splitTime(*q.Until)
	}
	return r
}

func (r timeRange) contains(s, ns int64) bool {
	if r.since && (s < r.sinceS || (s == r.sinceS && ns < r.sinceNS)) {
		return false
	}
	return !r.until || s < r.untilS || (s == r.untilS && ns < r.untilNS)
}

// scanSQL is the query of a range scan without label filters; SQLite
// chooses between the rowid and the claimed_at index.
func scanSQL(q *store.Query, tr timeRange) (string, []int64) {
	var b strings.Builder
	args := []int64{int64(q.From)}
	b.WriteString("SELECT ")
	if q.KeysOnly {
		b.WriteString(keyCols)
	} else {
		b.WriteString(envelopeCols)
	}
	b.WriteString(" FROM envelopes WHERE position >= ?")
	if q.To != 0 {
		b.WriteString(" AND position <= ?")
		args = append(args, int64(q.To))
	}
	if tr.since {
		b.WriteString(" AND (claimed_s, claimed_ns) >= (?, ?)")
		args = append(args, tr.sinceS, tr.sinceNS)
	}
	if tr.until {
		b.WriteString(" AND (claimed_s, claimed_ns) < (?, ?)")
		args = append(args, tr.untilS, tr.untilNS)
	}
	b.WriteString(" ORDER BY position")
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, int64(q.Limit))
	}
	return b.String(), args
}

func (v *view) Envelopes(ctx context.Context, q store.Query, fn func(*store.EnvelopeRow) error) error {
	if q.From < 1 {
		q.From = 1
	}
	tr := newTimeRange(&q)
	kinds := v.labelKinds(&q)
	var r store.EnvelopeRow
	var a arena.Arena
	emit := func(cols []arg) error {
		if err := envelopeRow(&r, cols, q.KeysOnly, &a); err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			if errors.Is(err, store.ErrStop) {
				return errStop
			}
			return err
		}
		return nil
	}
	if len(kinds) == 0 && !tr.since && !tr.until {
		query, args := scanSQL(&q, tr)
		return v.err("read envelopes", v.c.scan(ctx, query, args, emit))
	}
	if len(kinds) == 0 {
		return v.err("read envelopes", v.zoneScan(ctx, &q, tr, emit))
	}
	// Walk the postings; read each candidate row by position and apply the
	// label and time filters to it (the postings of colliding labels are
	// shared).
	rowSQL := "SELECT " + envelopeCols + " FROM envelopes WHERE position = ?"
	n := 0
	walk := store.NewAllOf(kinds)
	for target := q.From; ; {
		p, ok, err := walk.Next(ctx, target)
		if err != nil || !ok || (q.To != 0 && p > q.To) {
			return v.err("read envelopes", err)
		}
		found := false
		err = v.c.scan(ctx, rowSQL, []int64{int64(p)}, func(cols []arg) error {
			found = true
			s, err1 := cols[colClaimedS].int()
			ns, err2 := cols[colClaimedNS].int()
			if err1 != nil || err2 != nil {
				return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("envelopes row %d: column claimed_s: want integers", p)}
			}
			if !tr.contains(s, ns) || !labelsMatch(&q, cols) {
				return nil
			}
			n++
			return emit(cols)
		})
		if err != nil {
			return v.err("read envelopes", err)
		}
		if !found {
			return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("postings name envelopes row %d, which is missing", p)}
		}
		if q.Limit > 0 && n >= q.Limit {
			return nil
		}
		target = p + 1
	}
}

// envelopeRow converts a row's columns, copying its text and blobs into
// a: values of the wrong type or size are store.corrupt naming the row.
// The columns are only valid during the scan's callback, and a is never
// written again where it holds a value, so the row is Kept (TestRowsKept).
func envelopeRow(r *store.EnvelopeRow, cols []arg, keysOnly bool, a *arena.Arena) error {
	*r = store.EnvelopeRow{Kept: true}
	fail := func(col string, err error) error {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("envelopes row %d: column %s: %v", r.Position, col, err)}
	}
	pos, err := cols[0].int()
	if err != nil || pos < 1 {
		return fail("position", fmt.Errorf("want a positive integer"))
	}
	r.Position = uint64(pos)
	if r.Segment, err = cols[1].int(); err != nil {
		return fail("segment", err)
	}
	if err := fixedArg(r.EnvelopeID[:], cols[2]); err != nil {
		return fail("envelope_id", err)
	}
	if err := fixedArg(r.ContentHash[:], cols[3]); err != nil {
		return fail("content_hash", err)
	}
	if err := fixedArg(r.ChainHash[:], cols[4]); err != nil {
		return fail("chain_hash", err)
	}
	if keysOnly {
		return nil
	}
	for i, dst := range []*string{&r.EventType, &r.ActorID, &r.EnvironmentID, &r.AdapterID, &r.TraceID, &r.SessionID} {
		c := &cols[colEventType+i]
		if c.kind == argNull && (colEventType+i == colTrace || colEventType+i == colSession) {
			continue
		}
		if c.kind != argText {
			return fail(envelopeColumn(colEventType+i), fmt.Errorf("want text, have %s", c.typeName()))
		}
		*dst = a.String(c.s)
	}
	sec, err := cols[colClaimedS].int()
	if err != nil {
		return fail("claimed_s", err)
	}
	ns, err := cols[colClaimedNS].int()
	if err != nil || ns < 0 || ns >= 1e9 {
		return fail("claimed_ns", fmt.Errorf("want 0 to 999999999"))
	}
	if r.ClaimedAt, err = scalar.TimestampOf(time.Unix(sec, ns)); err != nil {
		return fail("claimed_s", err)
	}
	p, err := cols[colPayload].bytes()
	if err != nil {
		return fail("payload", err)
	}
	r.Payload = a.Bytes(p)
	for _, f := range []struct {
		col int
		dst *[]byte
	}{{colAttachments, &r.Attachments}, {colSignatures, &r.Signatures}} {
		if cols[f.col].kind == argNull {
			continue
		}
		b, err := cols[f.col].bytes()
		if err != nil {
			return fail(envelopeColumn(f.col), err)
		}
		*f.dst = a.Bytes(b)
	}
	return nil
}

// envelopeColumn names column i of envelopeCols.
func envelopeColumn(i int) string { return strings.Split(envelopeCols, ", ")[i] }

// AddEnvelope implements store.Tx: the row is held back (rowBatch) and
// written with others.
func (t *tx) AddEnvelope(ctx context.Context, e *store.EnvelopeRow) error {
	if err := t.db.rows.add(t.c, e, &t.postings); err != nil {
		return t.err("write envelope", err)
	}
	sec, ns := splitTime(e.ClaimedAt)
	t.zone.add(e.Position, sec, ns)
	return nil
}

// Flush implements store.Flusher.
func (t *tx) Flush(ctx context.Context) error {
	return t.err("write envelope", t.db.rows.flush(t.c))
}

// rowsPerInsert is the number of envelope rows one INSERT writes. A
// statement's fixed cost (binding, stepping, resetting through the
// driver) is about a third of a row's; 32 rows of 16 values stay far
// below SQLite's limit on parameters.
const rowsPerInsert = 32

// insertSQL[n] inserts n envelope rows.
var insertSQL = func() (q [rowsPerInsert + 1]string) {
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	for n := 1; n <= rowsPerInsert; n++ {
		q[n] = "INSERT INTO envelopes (" + envelopeCols + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	}
	return q
}()

// rowBatch holds the envelope rows a transaction added and has not yet
// written, their bytes copied into an arena, and writes them
// rowsPerInsert at a time; a transaction flushes the rest before it reads
// envelopes and when it commits. It belongs to the writer's connection.
type rowBatch struct {
	rows   []store.EnvelopeRow
	arena  arena.Arena
	args   []arg
	labels labelMemo
}

// add holds back a copy of e (of its strings and Payload only when they
// are not e.Kept), records its labels in ps, and writes the rows held
// when there are rowsPerInsert of them.
func (b *rowBatch) add(c *conn, e *store.EnvelopeRow, ps *postings) error {
	r := *e
	if !r.Kept {
		for _, s := range []*string{&r.EventType, &r.ActorID, &r.EnvironmentID, &r.AdapterID, &r.TraceID, &r.SessionID} {
			*s = b.arena.String(*s)
		}
		if r.Payload != nil {
			r.Payload = b.arena.Bytes(r.Payload)
		}
	}
	for _, p := range []*[]byte{&r.Attachments, &r.Signatures} {
		if *p != nil {
			*p = b.arena.Bytes(*p)
		}
	}
	b.rows = append(b.rows, r)
	ps.addLabels(&r, &b.labels)
	if len(b.rows) == rowsPerInsert {
		return b.flush(c)
	}
	return nil
}

// flush writes the rows held. A duplicate envelope id fails the whole
// statement, which then changed nothing; the rows are written again one
// at a time to name the one that failed, in a *store.RowError.
func (b *rowBatch) flush(c *conn) error {
	if len(b.rows) == 0 {
		return nil
	}
	defer b.reset()
	b.args = b.args[:0]
	for i := range b.rows {
		b.args = appendRowArgs(b.args, &b.rows[i])
	}
	_, err := c.execArgs(insertSQL[len(b.rows)], b.args)
	if !isConstraint(err, "envelope_id") {
		return err
	}
	for i := range b.rows {
		r := &b.rows[i]
		_, err := c.execArgs(insertSQL[1], appendRowArgs(b.args[:0], r))
		if isConstraint(err, "envelope_id") {
			return &store.RowError{Position: r.Position, Err: &errcode.Error{Code: errcode.StoreDuplicate, Field: "envelope_id",
				Msg: "envelope " + r.EnvelopeID.String() + " is already stored"}}
		}
		if err != nil {
			return err
		}
	}
	return errcode.New(errcode.Internal, "a duplicate envelope id that no row holds")
}

// reset empties the batch, keeping its memory. The arena is reused: every
// row that pointed into it is written.
func (b *rowBatch) reset() {
	clear(b.rows)
	b.rows = b.rows[:0]
	b.arena.Reset()
	clear(b.args)
	b.args = b.args[:0]
}

// appendRowArgs appends the values of one row of envelopeCols.
func appendRowArgs(args []arg, e *store.EnvelopeRow) []arg {
	sec, ns := splitTime(e.ClaimedAt)
	return append(args, intArg(int64(e.Position)), intArg(e.Segment),
		blobArg(e.EnvelopeID[:]), blobArg(e.ContentHash[:]), blobArg(e.ChainHash[:]),
		textArg(e.EventType), textArg(e.ActorID), textArg(e.EnvironmentID), textArg(e.AdapterID),
		optTextArg(e.TraceID), optTextArg(e.SessionID), intArg(sec), intArg(ns),
		blobArg(e.Payload), blobArg(e.Attachments), blobArg(e.Signatures))
}
