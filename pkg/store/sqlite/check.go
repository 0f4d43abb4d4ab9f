package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"slices"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
)

// IndexCheck implements store.IndexChecker: it rebuilds the zones and
// postings from the verified rows, one zone (one committed batch) at a
// time, and compares them with the stored ones.
func (db *DB) IndexCheck(v store.View) store.IndexCheck {
	vv, _ := v.(*view)
	return &indexCheck{v: vv, next: 1}
}

// indexCheck is the state of a rebuild: the stored zone being compared
// and what the rows of it so far say.
type indexCheck struct {
	v        *view
	next     uint64 // the position the next row must have
	zone     *zoneRow
	labels   postings           // the zone's rows' labels, by postings key
	memo     labelMemo          // the postings keys of the labels last seen
	names    map[int64]labelKey // a label of each postings key, for messages
	got      zone               // the rows' zone: positions and claimed range
	zones    int64
	postings int64
}

// labelKey names a label: its kind and text.
type labelKey struct {
	kind  int
	value string
}

// kindColumns names the label kinds' columns.
var kindColumns = [...]string{"", "event_type", "actor_id", "environment_id", "adapter_id", "trace_id", "session_id"}

type zoneRow struct {
	first, last              uint64
	minS, minNS, maxS, maxNS int64
}

func indexErr(format string, args ...any) error {
	return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf(format, args...)}
}

func (c *indexCheck) Row(ctx context.Context, r *store.EnvelopeRow) error {
	if c.v == nil {
		return errcode.New(errcode.Internal, "index check of another backend's view")
	}
	if r.Position != c.next {
		return errcode.New(errcode.Internal, "index check: row %d out of order, want %d", r.Position, c.next)
	}
	c.next++
	if c.zone == nil || r.Position > c.zone.last {
		if err := c.finishZone(ctx); err != nil {
			return err
		}
		if err := c.loadZone(ctx, r.Position); err != nil {
			return err
		}
	}
	c.labels.addLabels(r, &c.memo)
	for i, val := range rowLabels(r) {
		if id := labelID(kindEventType+i, val); val != "" && c.names[id] == (labelKey{}) {
			c.names[id] = labelKey{kindEventType + i, val}
		}
	}
	s, ns := splitTime(r.ClaimedAt)
	c.got.add(r.Position, s, ns)
	return nil
}

// loadZone reads the stored zone that must start at pos.
func (c *indexCheck) loadZone(ctx context.Context, pos uint64) error {
	row, err := c.v.c.queryRow(ctx, "SELECT first, last, min_s, min_ns, max_s, max_ns FROM zones WHERE last >= ? ORDER BY last LIMIT 1", int64(pos))
	if err != nil {
		return c.v.err("read zones", err)
	}
	if row == nil {
		return indexErr("zones: no zones row holds envelopes row %d", pos)
	}
	var vals [6]int64
	for i := range vals {
		if vals[i], err = asInt(row[i]); err != nil {
			return indexErr("zones row %v: column %d: %v", row[1], i, err)
		}
	}
	z := &zoneRow{uint64(vals[0]), uint64(vals[1]), vals[2], vals[3], vals[4], vals[5]}
	if z.first != pos {
		return indexErr("zones row %d: starts at envelopes row %d, but the zone before it ends at %d", z.last, z.first, pos-1)
	}
	c.zone, c.labels, c.names, c.got = z, postings{}, map[int64]labelKey{}, zone{}
	c.zones++
	return nil
}

// finishZone compares the stored zone and its postings with the rows.
func (c *indexCheck) finishZone(ctx context.Context) error {
	z := c.zone
	if z == nil {
		return nil
	}
	c.zone = nil
	g := c.got
	if g.last != z.last {
		return indexErr("zones row %d: ends at envelopes row %d, but the rows end at %d", z.last, z.last, g.last)
	}
	if g.minS != z.minS || g.minNS != z.minNS || g.maxS != z.maxS || g.maxNS != z.maxNS {
		return indexErr("zones row %d: claimed times %s to %s, but its rows hold %s to %s",
			z.last, unixTime(z.minS, z.minNS), unixTime(z.maxS, z.maxNS), unixTime(g.minS, g.minNS), unixTime(g.maxS, g.maxNS))
	}
	ids := make([]int64, 0, len(c.labels))
	for id := range c.labels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var ps []uint64
	for _, id := range ids {
		want := c.labels[id]
		k := c.names[id]
		name := fmt.Sprintf("postings of %s %q in zone %d-%d", kindColumns[k.kind], k.value, z.first, z.last)
		last := want[len(want)-1]
		var raw []byte
		found := false
		err := c.v.c.query(ctx, "SELECT positions FROM postings WHERE label = ? AND last = ?", []any{id, int64(last)}, func(vals []driver.Value) error {
			var err error
			raw, err = asBytes(vals[0])
			found = true
			return err
		})
		if err != nil {
			return c.v.err("read postings", err)
		}
		if !found {
			return indexErr("%s: no postings row (label %d, last %d): the index omits envelopes rows %v", name, id, last, want)
		}
		ps, err = decodePositions(ps[:0], raw, last)
		if err != nil {
			return indexErr("%s: postings row (label %d, last %d): %v", name, id, last, err)
		}
		if !slices.Equal(ps, want) {
			return indexErr("%s: postings row (label %d, last %d) lists envelopes rows %v, but the rows say %v", name, id, last, ps, want)
		}
		c.postings++
	}
	return nil
}

func unixTime(s, ns int64) string { return time.Unix(s, ns).UTC().Format(time.RFC3339Nano) }

func (c *indexCheck) Finish(ctx context.Context) error {
	if c.v == nil {
		return nil
	}
	if err := c.finishZone(ctx); err != nil {
		return err
	}
	for _, t := range []struct {
		table string
		want  int64
	}{{"zones", c.zones}, {"postings", c.postings}} {
		row, err := c.v.c.queryRow(ctx, "SELECT count(*) FROM "+t.table)
		if err != nil {
			return c.v.err("read "+t.table, err)
		}
		if n, _ := asInt(row[0]); n != t.want {
			return indexErr("%s: %d rows, but the envelope rows account for %d: the index lists rows that are not there", t.table, n, t.want)
		}
	}
	return nil
}
