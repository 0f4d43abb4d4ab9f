package store

import (
	"cmp"
	"context"
	"slices"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// Selector chooses envelopes for a bundle (SPEC §9.2). Unlike a Filter,
// its parts combine as a union: an envelope is selected when it is in one
// of Segments, or has one of TraceIDs, or one of SessionIDs, or one of
// EventTypes, or a claimed_at in [Since, Until) (when either is set).
type Selector struct {
	All          bool
	Segments     []scalar.UUID
	TraceIDs     []scalar.Label
	SessionIDs   []scalar.Label
	EventTypes   []scalar.Token
	Since, Until *scalar.Timestamp
}

// IsZero reports whether s selects nothing.
func (s *Selector) IsZero() bool {
	return !s.All && len(s.Segments) == 0 && len(s.TraceIDs) == 0 && len(s.SessionIDs) == 0 &&
		len(s.EventTypes) == 0 && s.Since == nil && s.Until == nil
}

// Match is a segment holding selected envelopes.
type Match struct {
	Segment *Segment
	// All reports that every envelope of the segment is selected (the
	// segment was selected by id, or by All); Sequences is then nil.
	All bool
	// Sequences lists the selected sequences in ascending order.
	Sequences []uint64
}

// Selected reports whether the envelope with sequence seq is selected.
func (m *Match) Selected(seq uint64) bool {
	if m.All {
		return seq >= 1 && seq <= m.Segment.Count
	}
	_, ok := slices.BinarySearch(m.Sequences, seq)
	return ok
}

// Select returns the segments holding envelopes that sel selects, in store
// order, each with the selected sequences. A segment named in sel.Segments
// is matched even when it holds no envelope; one that is not stored is
// segment.not_found. Selecting more than max envelopes by attribute (not
// counting whole segments) fails with bundle.limit_exceeded before
// returning; max ≤ 0 means no limit.
func (sn *Snapshot) Select(ctx context.Context, sel Selector, max int) ([]Match, error) {
	if sel.Since != nil && sel.Until != nil && sel.Since.Compare(*sel.Until) > 0 {
		return nil, errcode.New(errcode.UsageInvalid, "since %s is after until %s", sel.Since, sel.Until)
	}
	whole := map[int64]bool{}
	if sel.All {
		segs, err := sn.Segments(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]Match, len(segs))
		for i, g := range segs {
			out[i] = Match{Segment: g, All: true}
		}
		return out, nil
	}
	for _, id := range sel.Segments {
		g, err := sn.Segment(ctx, id)
		if err != nil {
			return nil, err
		}
		whole[g.Order] = true
	}
	var queries []Query
	strs := func(n int, at func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = at(i)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	if len(sel.TraceIDs) > 0 {
		queries = append(queries, Query{TraceIDs: strs(len(sel.TraceIDs), func(i int) string { return sel.TraceIDs[i].String() })})
	}
	if len(sel.SessionIDs) > 0 {
		queries = append(queries, Query{SessionIDs: strs(len(sel.SessionIDs), func(i int) string { return sel.SessionIDs[i].String() })})
	}
	if len(sel.EventTypes) > 0 {
		queries = append(queries, Query{EventTypes: strs(len(sel.EventTypes), func(i int) string { return sel.EventTypes[i].String() })})
	}
	if sel.Since != nil || sel.Until != nil {
		queries = append(queries, Query{Since: sel.Since, Until: sel.Until})
	}
	type hit struct {
		order int64
		pos   uint64
	}
	var hits []hit
	for _, q := range queries {
		q.From, q.KeysOnly = 1, true
		if max > 0 {
			q.Limit = max + 1
		}
		n := 0
		err := sn.v.Envelopes(ctx, q, func(r *EnvelopeRow) error {
			n++
			if !whole[r.Segment] {
				hits = append(hits, hit{r.Segment, r.Position})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if max > 0 && (n > max || len(hits) > max) {
			return nil, errcode.New(errcode.BundleLimitExceeded, "the selector matches more than %d envelopes", max)
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.order != b.order {
			return cmp.Compare(a.order, b.order)
		}
		return cmp.Compare(a.pos, b.pos)
	})
	hits = slices.Compact(hits)
	if max > 0 && len(hits) > max {
		return nil, errcode.New(errcode.BundleLimitExceeded, "the selector matches more than %d envelopes", max)
	}
	orders := make([]int64, 0, len(whole))
	for o := range whole {
		orders = append(orders, o)
	}
	for _, h := range hits {
		orders = append(orders, h.order)
	}
	slices.Sort(orders)
	orders = slices.Compact(orders)
	out := make([]Match, 0, len(orders))
	i := 0
	for _, o := range orders {
		g, err := sn.segmentAt(ctx, o)
		if err != nil {
			return nil, err
		}
		m := Match{Segment: g, All: whole[o]}
		for ; i < len(hits) && hits[i].order == o; i++ {
			if hits[i].pos < g.FirstPosition || hits[i].pos > g.last() {
				return nil, corrupt(envelopeRowName(hits[i].pos), g.ID(), 0, "row lies outside segments row %d", o)
			}
			m.Sequences = append(m.Sequences, hits[i].pos-g.FirstPosition+1)
		}
		if m.All {
			m.Sequences = nil
		}
		out = append(out, m)
	}
	return out, nil
}

// Matches reports whether sel selects e, an envelope of segment seg. The
// selection of Select comes from index columns; a bundle builder checks
// each envelope it discloses with Matches against the verified envelope
// itself.
func (sel *Selector) Matches(seg scalar.UUID, e *evidence.Envelope) bool {
	switch {
	case sel.All, slices.Contains(sel.Segments, seg), slices.Contains(sel.EventTypes, e.EventType):
		return true
	case !e.TraceID.IsZero() && slices.Contains(sel.TraceIDs, e.TraceID):
		return true
	case !e.SessionID.IsZero() && slices.Contains(sel.SessionIDs, e.SessionID):
		return true
	case sel.Since == nil && sel.Until == nil:
		return false
	}
	return (sel.Since == nil || e.ClaimedAt.Compare(*sel.Since) >= 0) && (sel.Until == nil || e.ClaimedAt.Compare(*sel.Until) < 0)
}
