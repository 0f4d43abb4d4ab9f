package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
	"github.com/jackc/pgx/v5"
)

// Postings index envelopes by label (event type, actor, environment,
// adapter, trace, session), in arxi.postings: a write transaction collects
// each label's positions in memory and writes one row per label at
// commit, its positions as an array, instead of a B-tree entry per
// envelope and label. Each batch appends after the one before, so the
// rows of one label never overlap and, in order of last, list the label's
// positions in order. A query walks the postings of its labels
// (intersecting kinds, merging the values of one kind) and reads the
// envelope rows at the positions found, with every filter applied to the
// rows' own columns again: a postings row that lies can leave a match out,
// never add one.

// labelKinds names the envelopes column of each label kind: kind k is
// labelKinds[k-1].
var labelKinds = [...]string{"event_type", "actor_id", "environment_id", "adapter_id", "trace_id", "session_id"}

// label is a postings key: a kind (1 to 6) and a value.
type label struct {
	kind  int16
	value string
}

func (l label) String() string { return labelKinds[l.kind-1] + " " + strconv.Quote(l.value) }

// rowLabels are the label values of a row, in kind order; "" is a null
// trace or session.
func rowLabels(e *store.EnvelopeRow) [6]string {
	return [6]string{e.EventType, e.ActorID, e.EnvironmentID, e.AdapterID, e.TraceID, e.SessionID}
}

// queryLabels are the label filters of q, in kind order.
func queryLabels(q *store.Query) [6][]string {
	return [6][]string{q.EventTypes, q.ActorIDs, q.EnvironmentIDs, q.AdapterIDs, q.TraceIDs, q.SessionIDs}
}

// hasLabels reports whether q filters by a label.
func hasLabels(q *store.Query) bool {
	for _, vals := range queryLabels(q) {
		if len(vals) > 0 {
			return true
		}
	}
	return false
}

// posting is one label's positions in a transaction.
type posting struct {
	label label
	pos   []int64
}

// postings collects the positions each label is written at in one
// transaction, in the order labels first appear.
type postings struct {
	index map[label]int // into lists
	lists []posting
	last  [6]int // 1 + the index of the list each kind's last value went to
}

// add records the labels of the envelope row e. Labels come in runs, so
// each kind first tries the list its last value went to.
func (ps *postings) add(e *store.EnvelopeRow) {
	for i, v := range rowLabels(e) {
		if v == "" {
			continue
		}
		j := ps.last[i] - 1
		if j < 0 || ps.lists[j].label.value != v {
			l := label{int16(i + 1), v}
			var ok bool
			if j, ok = ps.index[l]; !ok {
				if ps.index == nil {
					ps.index = map[label]int{}
				}
				// The row's strings are only valid during AddEnvelope.
				l.value = strings.Clone(v)
				j = len(ps.lists)
				ps.lists = append(ps.lists, posting{label: l})
				ps.index[l] = j
			}
			ps.last[i] = j + 1
		}
		ps.lists[j].pos = append(ps.lists[j].pos, int64(e.Position))
	}
}

// postingsMax is the most positions a postings row lists: 7,680 bytes,
// so that a row with the longest label (256 bytes) stays within one 8 KiB
// page, uncompressed (toast_tuple_target, schema.go).
const postingsMax = 960

// flush writes the postings rows of each label, postingsMax positions at
// most a row, in one COPY, and empties ps.
func (ps *postings) flush(tx pgx.Tx, log int32) error {
	if len(ps.lists) == 0 {
		return nil
	}
	i, from := 0, 0
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(ps.lists) {
			return nil, nil
		}
		p := &ps.lists[i]
		part := p.pos[from:min(from+postingsMax, len(p.pos))]
		if from += len(part); from == len(p.pos) {
			i, from = i+1, 0
		}
		return []any{log, p.label.kind, p.label.value, part[len(part)-1], part}, nil
	})
	if _, err := tx.Conn().CopyFrom(bg, pgx.Identifier{schemaName, "postings"}, []string{"log_id", "kind", "value", "last", "positions"}, rows); err != nil {
		return err
	}
	*ps = postings{}
	return nil
}

// A walk reads a label's postings rows a few at a time: first
// minPostingRows, then as many as hold about postingPositions positions,
// at most maxPostingRows (a trace's rows hold a few positions each, an
// environment's hundreds).
const (
	minPostingRows   = 16
	maxPostingRows   = 1024
	postingPositions = 8192
)

// postingsRow names a postings row in errors.
func postingsRow(l label, last int64) string {
	return fmt.Sprintf("postings row (%s, last %d)", l, last)
}

// readPostings reads up to limit postings rows of label l whose last
// position is at least from, in order, and appends their positions to
// dst. It checks what the rows say: each list increasing, ending at its
// row's last, and after the list of the row before. n is the number of
// rows read.
func (v *view) readPostings(ctx context.Context, l label, from int64, limit int, dst []int64) (out []int64, n int, err error) {
	rows, err := v.tx.Query(ctx, "SELECT last, positions FROM arxi.postings WHERE log_id = $1 AND kind = $2 AND value = $3 AND last >= $4 ORDER BY last LIMIT "+strconv.Itoa(limit),
		v.db.log, l.kind, l.value, from)
	if err != nil {
		return dst, 0, v.err("read postings", err)
	}
	defer rows.Close()
	prev := int64(0)
	var last int64
	var pos []int64
	for rows.Next() {
		if err := rows.Scan(&last, &pos); err != nil {
			return dst, n, &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("postings row (%s) after last %d: %v", l, prev, err)}
		}
		if msg := checkPositions(pos, last, prev); msg != "" {
			return dst, n, &errcode.Error{Code: errcode.StoreCorrupt, Msg: postingsRow(l, last) + ": " + msg}
		}
		dst = append(dst, pos...)
		prev = last
		n++
	}
	if err := rows.Err(); err != nil {
		return dst, n, v.err("read postings", err)
	}
	return dst, n, nil
}

// checkPositions checks a postings list: positions increasing, after
// prev, ending at last. It returns what is wrong, or "".
func checkPositions(pos []int64, last, prev int64) string {
	if len(pos) == 0 {
		return "column positions: is empty"
	}
	if pos[0] <= prev {
		return fmt.Sprintf("column positions: starts at %d, within the row before", pos[0])
	}
	for i := 1; i < len(pos); i++ {
		if pos[i] <= pos[i-1] {
			return fmt.Sprintf("column positions: %d after %d", pos[i], pos[i-1])
		}
	}
	if pos[len(pos)-1] != last {
		return fmt.Sprintf("column positions: ends at %d, not at last", pos[len(pos)-1])
	}
	return ""
}

// postingIter walks one label's positions in increasing order.
type postingIter struct {
	v     *view
	label label
	ps    []int64 // the positions of the rows read last
	i     int
	rows  int  // how many rows to read next; 0 before the first read
	more  bool // rows may follow those read
}

// seek returns the label's first position ≥ target, or ok false when
// there is none. Targets never decrease.
func (it *postingIter) seek(ctx context.Context, target int64) (int64, bool, error) {
	for {
		if it.i < len(it.ps) && it.ps[len(it.ps)-1] >= target {
			j, _ := slices.BinarySearch(it.ps[it.i:], target)
			it.i += j
			return it.ps[it.i], true, nil
		}
		if it.rows > 0 && !it.more {
			return 0, false, nil
		}
		limit := max(it.rows, minPostingRows)
		var n int
		var err error
		it.ps, n, err = it.v.readPostings(ctx, it.label, target, limit, it.ps[:0])
		if err != nil {
			return 0, false, err
		}
		it.i, it.more = 0, n == limit
		it.rows = min(maxPostingRows, max(minPostingRows, postingPositions*n/max(len(it.ps), 1)))
	}
}

// Seek implements store.PostingList over seek's int64 positions.
func (it *postingIter) Seek(ctx context.Context, target uint64) (uint64, bool, error) {
	p, ok, err := it.seek(ctx, int64(target))
	return uint64(p), ok, err
}

// walkers returns the postings walk of q's label filters
// (store.NewAllOf).
func (v *view) walkers(q *store.Query) store.AllOf {
	var kinds []store.AnyOf
	for i, vals := range queryLabels(q) {
		var k store.AnyOf
		for _, val := range vals {
			k = append(k, &postingIter{v: v, label: label{int16(i + 1), val}})
		}
		if k != nil {
			kinds = append(kinds, k)
		}
	}
	return store.NewAllOf(kinds)
}

// labelEnvelopes is Envelopes for a query with label filters: chunks of
// the positions the postings agree on, each read as rows by position with
// every filter of q applied to the rows' columns.
func (v *view) labelEnvelopes(ctx context.Context, q *store.Query, chunk int, fn func(*store.EnvelopeRow) error) error {
	kinds := v.walkers(q)
	var arena []byte
	var batch []store.EnvelopeRow
	cands := make([]int64, 0, chunk)
	target, n := q.From, 0
	for {
		want := chunk
		if q.Limit > 0 {
			want = min(want, q.Limit-n)
		}
		cands = cands[:0]
		for len(cands) < want {
			p, ok, err := kinds.Next(ctx, target)
			if err != nil {
				return err
			}
			if !ok || (q.To != 0 && p > q.To) {
				break
			}
			cands = append(cands, int64(p))
			target = p + 1
		}
		if len(cands) == 0 {
			return nil
		}
		var err error
		arena, batch = arena[:0], batch[:0]
		if batch, err = v.envelopeChunk(ctx, q, uint64(cands[0]), len(cands), cands, &arena, batch); err != nil {
			return err
		}
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				return err
			}
		}
		n += len(batch)
		if len(cands) < want || (q.Limit > 0 && n >= q.Limit) {
			return nil
		}
	}
}

// IndexCheck implements store.IndexChecker: it rebuilds the postings from
// the verified rows, label by label, and compares them with the stored
// rows (arxi-append doctor).
func (db *DB) IndexCheck(v store.View) store.IndexCheck {
	c := &indexCheck{open: map[label]*openRow{}}
	switch v := v.(type) {
	case *view:
		c.v = v
	case *tx:
		c.v = &v.view
	}
	return c
}

var _ store.IndexChecker = (*DB)(nil)

// indexCheck walks each label's stored postings rows beside the rows that
// carry the label: the stored row that holds a label's next position is
// read when a row carries the label, and must list exactly the positions
// of the next rows that carry it, up to its last.
type indexCheck struct {
	v    *view
	open map[label]*openRow // the stored row each label is being compared with
	rows int64              // stored rows compared whole
}

// openRow is a stored postings row being compared: the positions it
// lists and how many the rows accounted for.
type openRow struct {
	last int64
	pos  []int64
	i    int
}

func indexErr(format string, args ...any) error {
	return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf(format, args...)}
}

func (c *indexCheck) Row(ctx context.Context, r *store.EnvelopeRow) error {
	if c.v == nil {
		return errcode.New(errcode.Internal, "index check of another backend's view")
	}
	p := int64(r.Position)
	for i, val := range rowLabels(r) {
		if val == "" {
			continue
		}
		l := label{int16(i + 1), val}
		o := c.open[l]
		if o == nil {
			pos, _, err := c.v.readPostings(ctx, l, p, 1, nil)
			if err != nil {
				return err
			}
			if len(pos) == 0 {
				return indexErr("postings of %s: no postings row holds envelopes row %d", l, p)
			}
			o = &openRow{last: pos[len(pos)-1], pos: pos}
			l.value = strings.Clone(val)
			c.open[l] = o
		}
		switch got := o.pos[o.i]; {
		case got < p:
			return indexErr("%s lists envelopes row %d, whose line does not carry %s", postingsRow(l, o.last), got, l)
		case got > p:
			return indexErr("%s: the postings omit envelopes row %d", postingsRow(l, o.last), p)
		}
		if o.i++; o.i == len(o.pos) {
			delete(c.open, l)
			c.rows++
		}
	}
	return nil
}

func (c *indexCheck) Finish(ctx context.Context) error {
	if c.v == nil {
		return nil
	}
	// A row left open lists positions beyond the last row that carries its
	// label: name the first such position.
	var bad *openRow
	var badLabel label
	for l, o := range c.open {
		if bad == nil || o.pos[o.i] < bad.pos[bad.i] || (o.pos[o.i] == bad.pos[bad.i] && l.kind < badLabel.kind) {
			bad, badLabel = o, l
		}
	}
	if bad != nil {
		return indexErr("%s lists envelopes row %d, whose line does not carry %s", postingsRow(badLabel, bad.last), bad.pos[bad.i], badLabel)
	}
	var n int64
	if err := c.v.tx.QueryRow(ctx, "SELECT count(*) FROM arxi.postings WHERE log_id = $1", c.v.db.log).Scan(&n); err != nil {
		return c.v.err("read postings", err)
	}
	if n != c.rows {
		return indexErr("postings: %d rows, but the envelope rows account for %d: the index lists rows that are not there", n, c.rows)
	}
	return nil
}
