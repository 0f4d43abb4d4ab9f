package sqlite

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"slices"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
)

// Postings index envelopes by label (event type, actor, environment,
// adapter, trace, session). Instead of one SQLite index entry per envelope
// and label, which costs a B-tree insertion each, a write transaction
// collects each label's positions in memory and writes one postings row
// per label at commit: its positions as a delta-encoded list. Rows of one
// label never overlap, since each batch appends after the one before, so a
// label's rows in order of their last position are its positions in
// order. A query walks the postings of its labels, intersecting across
// labels (AND) and merging a label list (OR), then reads the matching
// envelope rows by position.

// encodePositions writes increasing positions as uvarint deltas.
func encodePositions(dst []byte, ps []uint64) []byte {
	var prev uint64
	for _, p := range ps {
		dst = binary.AppendUvarint(dst, p-prev)
		prev = p
	}
	return dst
}

// decodePositions reads a postings list, checking that it is strictly
// increasing and ends at last.
func decodePositions(dst []uint64, b []byte, last uint64) ([]uint64, error) {
	var p uint64
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 || d == 0 || p+d < p {
			return dst, fmt.Errorf("bad delta")
		}
		p += d
		dst = append(dst, p)
		b = b[n:]
	}
	if len(dst) == 0 || p != last {
		return dst, fmt.Errorf("list does not end at %d", last)
	}
	return dst, nil
}

// postings collects the positions each label is written at in one
// transaction, for one postings row per label at commit.
type postings map[int64][]uint64

// add records that the envelope at pos carries the label id (once, should
// two of its labels collide).
func (ps *postings) add(id int64, pos uint64) {
	if *ps == nil {
		*ps = postings{}
	}
	l := (*ps)[id]
	if len(l) > 0 && l[len(l)-1] == pos {
		return
	}
	(*ps)[id] = append(l, pos)
}

// rowLabels are the label columns of a row, in kind order; "" is a null
// trace or session.
func rowLabels(e *store.EnvelopeRow) [6]string {
	return [6]string{e.EventType, e.ActorID, e.EnvironmentID, e.AdapterID, e.TraceID, e.SessionID}
}

// addLabels records the labels of the envelope row e, their keys looked
// up in m first.
func (ps *postings) addLabels(e *store.EnvelopeRow, m *labelMemo) {
	for i, val := range rowLabels(e) {
		if val != "" {
			ps.add(m.id(kindEventType+i, val), e.Position)
		}
	}
}

// labelMemo remembers the postings keys (labelID) of the last two values
// of each label kind: consecutive envelopes mostly repeat them (one
// environment and adapter, runs of one trace or session, a few event
// types), and hashing every label of every row was a tenth of the
// writer's own work on a row.
type labelMemo [6][2]struct {
	val string
	id  int64
}

// id returns labelID(kind, val) for a non-empty val.
func (m *labelMemo) id(kind int, val string) int64 {
	e := &m[kind-kindEventType]
	switch val {
	case e[0].val:
		return e[0].id
	case e[1].val:
		e[0], e[1] = e[1], e[0]
		return e[0].id
	}
	e[1] = e[0]
	e[0].val, e[0].id = val, labelID(kind, val)
	return e[0].id
}

// flush writes one postings row per label, in label order, and empties ps.
func (ps *postings) flush(c *conn) error {
	labels := make([]int64, 0, len(*ps))
	for id := range *ps {
		labels = append(labels, id)
	}
	slices.Sort(labels)
	var buf []byte
	for _, id := range labels {
		pos := (*ps)[id]
		buf = encodePositions(buf[:0], pos)
		if _, err := c.exec(bg, "INSERT INTO postings (label, last, positions) VALUES (?, ?, ?)", id, int64(pos[len(pos)-1]), buf); err != nil {
			return err
		}
	}
	*ps = nil
	return nil
}

// postingIter walks one label's positions in increasing order.
type postingIter struct {
	v     *view
	label int64
	ps    []uint64 // the current postings row
	i     int
	done  bool
}

// Seek implements store.PostingList: the first position ≥ target, or ok
// false when there is none.
func (it *postingIter) Seek(ctx context.Context, target uint64) (uint64, bool, error) {
	for !it.done {
		if it.i < len(it.ps) && it.ps[len(it.ps)-1] >= target {
			j, _ := slices.BinarySearch(it.ps[it.i:], target)
			it.i += j
			return it.ps[it.i], true, nil
		}
		// Load the first row that reaches target.
		var last int64
		var raw []byte
		found := false
		err := it.v.c.query(ctx, "SELECT last, positions FROM postings WHERE label = ? AND last >= ? ORDER BY last LIMIT 1",
			[]any{it.label, int64(target)}, func(vals []driver.Value) error {
				var err error
				if last, err = asInt(vals[0]); err != nil {
					return err
				}
				raw, err = asBytes(vals[1])
				found = true
				return err
			})
		if err != nil {
			return 0, false, err
		}
		if !found {
			it.done = true
			break
		}
		it.ps, err = decodePositions(it.ps[:0], raw, uint64(last))
		if err != nil {
			return 0, false, &errcode.Error{Code: errcode.StoreCorrupt,
				Msg: fmt.Sprintf("postings row (label %d, last %d): %v", it.label, last, err)}
		}
		it.i = 0
		if it.ps[len(it.ps)-1] < target {
			return 0, false, &errcode.Error{Code: errcode.StoreCorrupt,
				Msg: fmt.Sprintf("postings row (label %d, last %d): list ends before %d", it.label, last, target)}
		}
	}
	return 0, false, nil
}

// Envelopes implements store.View for a transaction: it writes the rows
// it holds back first and, as label and time filters use the postings and
// zones, its own postings and zone too.
func (t *tx) Envelopes(ctx context.Context, q store.Query, fn func(*store.EnvelopeRow) error) error {
	if err := t.Flush(ctx); err != nil {
		return err
	}
	if len(q.EventTypes)+len(q.ActorIDs)+len(q.EnvironmentIDs)+len(q.AdapterIDs)+len(q.TraceIDs)+len(q.SessionIDs) > 0 || q.Since != nil || q.Until != nil {
		if err := t.postings.flush(t.c); err != nil {
			return t.err("write postings", err)
		}
		if err := t.flushZone(); err != nil {
			return err
		}
	}
	return t.view.Envelopes(ctx, q, fn)
}

// zone accumulates a transaction's positions and claimed times.
type zone struct {
	n           int
	first, last uint64
	minS, minNS int64
	maxS, maxNS int64
}

func (z *zone) add(pos uint64, s, ns int64) {
	if z.n == 0 {
		*z = zone{first: pos, minS: s, minNS: ns, maxS: s, maxNS: ns}
	}
	z.n++
	z.last = pos
	if s < z.minS || (s == z.minS && ns < z.minNS) {
		z.minS, z.minNS = s, ns
	}
	if s > z.maxS || (s == z.maxS && ns > z.maxNS) {
		z.maxS, z.maxNS = s, ns
	}
}

// flushZone writes the zone row of the envelopes written since the last.
func (t *tx) flushZone() error {
	z := t.zone
	if z.n == 0 {
		return nil
	}
	_, err := t.c.exec(bg, "INSERT INTO zones (last, first, min_s, min_ns, max_s, max_ns) VALUES (?, ?, ?, ?, ?, ?)",
		int64(z.last), int64(z.first), z.minS, z.minNS, z.maxS, z.maxNS)
	if err != nil {
		return t.err("write zone", err)
	}
	t.zone = zone{}
	return nil
}

// zoneScan reads the envelopes of a time range: the zones whose claimed
// times overlap it, then their rows by position, filtered exactly.
func (v *view) zoneScan(ctx context.Context, q *store.Query, tr timeRange, emit func([]arg) error) error {
	zq := "SELECT first, last FROM zones WHERE last >= ?"
	args := []any{int64(q.From)}
	if tr.since {
		zq += " AND (max_s, max_ns) >= (?, ?)"
		args = append(args, tr.sinceS, tr.sinceNS)
	}
	if tr.until {
		zq += " AND (min_s, min_ns) < (?, ?)"
		args = append(args, tr.untilS, tr.untilNS)
	}
	zq += " ORDER BY last"
	type span struct{ first, last uint64 }
	var spans []span
	err := v.c.query(ctx, zq, args, func(vals []driver.Value) error {
		first, err1 := asInt(vals[0])
		last, err2 := asInt(vals[1])
		if err1 != nil || err2 != nil || first < 1 || last < first {
			return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("zones row %v: bad position range", vals[1])}
		}
		spans = append(spans, span{uint64(first), uint64(last)})
		return nil
	})
	if err != nil {
		return err
	}
	n := 0
	for _, sp := range spans {
		sub := *q
		sub.From = max(sp.first, q.From)
		sub.To = sp.last
		if q.To != 0 {
			if sub.From > q.To {
				break
			}
			sub.To = min(sp.last, q.To)
		}
		if q.Limit > 0 {
			sub.Limit = q.Limit - n
		}
		query, args := scanSQL(&sub, tr)
		err := v.c.scan(ctx, query, args, func(cols []arg) error {
			n++
			return emit(cols)
		})
		if err != nil {
			return err
		}
		if q.Limit > 0 && n >= q.Limit {
			break
		}
	}
	return nil
}
