package store

import (
	"arxi.dev/arxi/pkg/bundle"
	"cmp"
	"context"
	"slices"

	"arxi.dev/arxi/pkg/errcode"
)

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

// Select returns the segments holding envelopes that a bundle's selector
// (SPEC §9.2) selects, in store order, each with the selected sequences,
// as the store's indexes say: a bundle builder decides disclosure from
// the envelopes themselves (bundle.Selector.Match). A segment named in
// sel.Segments is matched even when it holds no envelope; one that is not
// stored is segment.not_found. Selecting more than max envelopes by
// attribute (not counting whole segments) fails with
// bundle.limit_exceeded before returning; max ≤ 0 means no limit.
func (sn *Snapshot) Select(ctx context.Context, sel bundle.Selector, max int) ([]Match, error) {
	if err := sel.Normalize(); err != nil {
		return nil, err
	}
	whole := map[int64]bool{}
	if sel.Everything() {
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
