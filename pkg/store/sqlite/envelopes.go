package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
)

// Label kinds: the labels.kind column.
const (
	kindEventType = 1 + iota
	kindActor
	kindEnvironment
	kindAdapter
	kindTrace
	kindSession
)

var kindColumns = [...]string{"", "event_type", "actor_id", "environment_id", "adapter_id", "trace_id", "session_id"}

type labelKey struct {
	kind  int
	value string
}

// labelCache maps label strings to their ids and back. It holds only
// committed labels: an id from a rolled-back transaction may be reused,
// so the writer adds its new labels after the commit. Labels never change
// once committed, so one cache serves every connection.
type labelCache struct {
	mu     sync.RWMutex
	ids    map[labelKey]int64
	values map[int64]labelKey
}

func newLabelCache() *labelCache {
	return &labelCache{ids: map[labelKey]int64{}, values: map[int64]labelKey{}}
}

func (lc *labelCache) id(k labelKey) (int64, bool) {
	lc.mu.RLock()
	id, ok := lc.ids[k]
	lc.mu.RUnlock()
	return id, ok
}

func (lc *labelCache) value(id int64) (labelKey, bool) {
	lc.mu.RLock()
	k, ok := lc.values[id]
	lc.mu.RUnlock()
	return k, ok
}

// maxCachedLabels bounds the cache: a long-lived writer meets ever new
// trace ids, and a miss costs only a lookup in the labels table.
const maxCachedLabels = 1 << 16

func (lc *labelCache) add(k labelKey, id int64) {
	lc.mu.Lock()
	if len(lc.ids) >= maxCachedLabels {
		clear(lc.ids)
		clear(lc.values)
	}
	lc.ids[k] = id
	lc.values[id] = k
	lc.mu.Unlock()
}

// labelID returns the id of a committed label, or 0 when there is none.
func (v *view) labelID(ctx context.Context, k labelKey) (int64, error) {
	if id, ok := v.db.labels.id(k); ok {
		return id, nil
	}
	if v.pending != nil {
		if id, ok := v.pending[k]; ok {
			return id, nil
		}
	}
	row, err := v.c.queryRow(ctx, "SELECT id FROM labels WHERE kind = ? AND value = ?", int64(k.kind), k.value)
	if err != nil || row == nil {
		return 0, err
	}
	id, err := asInt(row[0])
	if err != nil || id < 1 {
		return 0, &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("labels row for %s %q: bad id", kindColumns[k.kind], k.value)}
	}
	if v.pending == nil { // a reader sees committed rows only
		v.db.labels.add(k, id)
	}
	return id, nil
}

// labelValue resolves a label id read from an envelope row of the given
// column kind.
func (v *view) labelValue(ctx context.Context, id int64, kind int, pos int64) (string, error) {
	if k, ok := v.db.labels.value(id); ok && k.kind == kind {
		return k.value, nil
	}
	if v.pending != nil {
		for k, pid := range v.pending {
			if pid == id && k.kind == kind {
				return k.value, nil
			}
		}
	}
	bad := func(msg string) error {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("envelopes row %d: column %s: %s", pos, kindColumns[kind], msg)}
	}
	row, err := v.c.queryRow(ctx, "SELECT kind, value FROM labels WHERE id = ?", id)
	if err != nil {
		return "", err
	}
	if row == nil {
		return "", bad(fmt.Sprintf("no labels row %d", id))
	}
	k, _ := asInt(row[0])
	val, err := asText(row[1])
	if err != nil || int(k) != kind {
		return "", bad(fmt.Sprintf("labels row %d is not a %s", id, kindColumns[kind]))
	}
	if v.pending == nil {
		v.db.labels.add(labelKey{kind, val}, id)
	}
	return val, nil
}

// splitTime turns a timestamp into Unix seconds and nanoseconds, the
// claimed_s and claimed_ns columns.
func splitTime(t scalar.Timestamp) (int64, int64) {
	tt := t.Time()
	return tt.Unix(), int64(tt.Nanosecond())
}

const (
	keyCols      = "position, segment, sequence, envelope_id, content_hash, chain_hash"
	envelopeCols = keyCols + ", event_type, actor_id, environment_id, adapter_id, trace_id, session_id, claimed_s, claimed_ns, line"
)

// labelKinds resolves the label filters of q into postings walkers, one
// per kind; none reports that a kind's labels are all unknown, so nothing
// can match.
func (v *view) labelKinds(ctx context.Context, q *store.Query) (kinds []anyOf, none bool, err error) {
	for _, f := range []struct {
		kind int
		vals []string
	}{{kindEventType, q.EventTypes}, {kindActor, q.ActorIDs}, {kindEnvironment, q.EnvironmentIDs},
		{kindAdapter, q.AdapterIDs}, {kindTrace, q.TraceIDs}, {kindSession, q.SessionIDs}} {
		if len(f.vals) == 0 {
			continue
		}
		var k anyOf
		for _, val := range f.vals {
			id, err := v.labelID(ctx, labelKey{f.kind, val})
			if err != nil {
				return nil, false, err
			}
			if id != 0 {
				k = append(k, &postingIter{v: v, label: id})
			}
		}
		if len(k) == 0 {
			return nil, true, nil
		}
		kinds = append(kinds, k)
	}
	return kinds, false, nil
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
func scanSQL(q *store.Query, tr timeRange) (string, []any) {
	var b strings.Builder
	args := []any{int64(q.From)}
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
	kinds, none, err := v.labelKinds(ctx, &q)
	if err != nil || none {
		return v.err("read envelopes", err)
	}
	var r store.EnvelopeRow
	emit := func(vals []driver.Value) error {
		if err := v.envelopeRow(ctx, &r, vals, q.KeysOnly); err != nil {
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
		return v.err("read envelopes", v.c.query(ctx, query, args, emit))
	}
	if len(kinds) == 0 {
		return v.err("read envelopes", v.zoneScan(ctx, &q, tr, emit))
	}
	// Walk the postings; read each candidate row by position and apply the
	// time range to it.
	cols := envelopeCols
	if q.KeysOnly {
		cols = keyCols + ", claimed_s, claimed_ns"
	}
	rowSQL := "SELECT " + cols + " FROM envelopes WHERE position = ?"
	n := 0
	err = allOf(ctx, kinds, q.From, q.To, func(p uint64) error {
		found := false
		err := v.c.query(ctx, rowSQL, []any{int64(p)}, func(vals []driver.Value) error {
			found = true
			s, err1 := asInt(vals[len(vals)-3+boolInt(q.KeysOnly)])
			ns, err2 := asInt(vals[len(vals)-2+boolInt(q.KeysOnly)])
			if err1 != nil || err2 != nil {
				return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("envelopes row %d: column claimed_s: want integers", p)}
			}
			if !tr.contains(s, ns) {
				return nil
			}
			n++
			return emit(vals)
		})
		if err != nil {
			return err
		}
		if !found {
			return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("postings name envelopes row %d, which is missing", p)}
		}
		if q.Limit > 0 && n >= q.Limit {
			return errStop
		}
		return nil
	})
	return v.err("read envelopes", err)
}

// boolInt is 1 for true: KeysOnly rows end with claimed_s, claimed_ns;
// full rows with claimed_s, claimed_ns, line.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// envelopeRow converts a row; values of the wrong type or size are
// store.corrupt naming the row.
func (v *view) envelopeRow(ctx context.Context, r *store.EnvelopeRow, vals []driver.Value, keysOnly bool) error {
	*r = store.EnvelopeRow{}
	fail := func(col string, err error) error {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("envelopes row %d: column %s: %v", r.Position, col, err)}
	}
	pos, err := asInt(vals[0])
	if err != nil || pos < 1 {
		return fail("position", fmt.Errorf("want a positive integer"))
	}
	r.Position = uint64(pos)
	if r.Segment, err = asInt(vals[1]); err != nil {
		return fail("segment", err)
	}
	seq, err := asInt(vals[2])
	if err != nil || seq < 1 {
		return fail("sequence", fmt.Errorf("want a positive integer"))
	}
	r.Sequence = uint64(seq)
	if err := fixed(r.EnvelopeID[:], vals[3]); err != nil {
		return fail("envelope_id", err)
	}
	if err := fixed(r.ContentHash[:], vals[4]); err != nil {
		return fail("content_hash", err)
	}
	if err := fixed(r.ChainHash[:], vals[5]); err != nil {
		return fail("chain_hash", err)
	}
	if keysOnly {
		return nil
	}
	for i, dst := range []*string{&r.EventType, &r.ActorID, &r.EnvironmentID, &r.AdapterID, &r.TraceID, &r.SessionID} {
		kind := kindEventType + i
		if vals[6+i] == nil && (kind == kindTrace || kind == kindSession) {
			continue
		}
		id, err := asInt(vals[6+i])
		if err != nil {
			return fail(kindColumns[kind], err)
		}
		if *dst, err = v.labelValue(ctx, id, kind, pos); err != nil {
			return err
		}
	}
	sec, err := asInt(vals[12])
	if err != nil {
		return fail("claimed_s", err)
	}
	ns, err := asInt(vals[13])
	if err != nil || ns < 0 || ns >= 1e9 {
		return fail("claimed_ns", fmt.Errorf("want 0 to 999999999"))
	}
	if r.ClaimedAt, err = scalar.TimestampOf(time.Unix(sec, ns)); err != nil {
		return fail("claimed_s", err)
	}
	if r.Line, err = asBytes(vals[14]); err != nil {
		return fail("line", err)
	}
	return nil
}

// AddEnvelope implements store.Tx.
func (t *tx) AddEnvelope(ctx context.Context, e *store.EnvelopeRow) error {
	var ids [6]any
	for i, val := range []string{e.EventType, e.ActorID, e.EnvironmentID, e.AdapterID, e.TraceID, e.SessionID} {
		if val == "" {
			continue // a null trace or session
		}
		id, err := t.label(ctx, labelKey{kindEventType + i, val})
		if err != nil {
			return err
		}
		ids[i] = id
	}
	sec, ns := splitTime(e.ClaimedAt)
	_, err := t.c.exec(bg, "INSERT INTO envelopes ("+envelopeCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		int64(e.Position), e.Segment, int64(e.Sequence), e.EnvelopeID[:], e.ContentHash[:], e.ChainHash[:],
		ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], sec, ns, e.Line)
	if isConstraint(err, "envelope_id") {
		return &errcode.Error{Code: errcode.StoreDuplicate, Field: "envelope_id", Msg: "envelope " + e.EnvelopeID.String() + " is already stored"}
	}
	if err != nil {
		return t.err("write envelope", err)
	}
	for _, id := range ids {
		if id != nil {
			t.post(id.(int64), e.Position)
		}
	}
	t.zone.add(e.Position, sec, ns)
	return nil
}

// label returns the id of a label, adding it to the labels table in this
// transaction when it is new.
func (t *tx) label(ctx context.Context, k labelKey) (int64, error) {
	id, err := t.labelID(ctx, k)
	if err != nil || id != 0 {
		return id, err
	}
	id, err = t.c.execID(bg, "INSERT INTO labels (kind, value) VALUES (?, ?)", int64(k.kind), k.value)
	if err != nil {
		return 0, t.err("write label", err)
	}
	t.pending[k] = id
	return id, nil
}
