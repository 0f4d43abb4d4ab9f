package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// CheckStats counts what Check verified.
type CheckStats struct {
	Segments    int64  // segments, each walked from its genesis to its seal
	Sealed      int64  // of which sealed
	Envelopes   uint64 // envelopes decoded, rehashed and chained
	Attachments int64  // distinct blobs rehashed
}

// CheckOptions configures Check.
type CheckOptions struct {
	// Progress, when set, is called with the number of envelopes verified
	// since its last call.
	Progress func(n int)
}

// IndexChecker is implemented by backends whose query indexes are stored
// apart from the envelope rows (SQLite's postings and zones): Check hands
// it every verified envelope row so that it can rebuild its indexes and
// compare them with what it stores. Backends whose indexes are the rows'
// own columns need none: Check compares those with each line.
type IndexChecker interface {
	// IndexCheck starts a rebuild of the indexes of the snapshot v (a View
	// of this backend).
	IndexCheck(v View) IndexCheck
}

// IndexCheck compares a backend's stored indexes with the rows.
type IndexCheck interface {
	// Row receives each verified envelope row in position order, with
	// every index column filled (the row is only valid during the call).
	Row(ctx context.Context, r *EnvelopeRow) error
	// Finish is called after the last row; it reports index entries that
	// no row accounts for.
	Finish(ctx context.Context) error
}

// checkChunk is how many envelopes Check asks the indexes about at once:
// it bounds Check's memory whatever the store's size.
const checkChunk = 1000

// Check re-verifies the whole snapshot, as arxi-append doctor does
// (SPEC §8): the chain state as Open checks it; every segment walked from
// its genesis hash through every envelope (decoded, rehashed, its columns
// compared with its line) to its seal; every referenced blob rehashed; and
// every index rebuilt from the verified rows and compared: for each run of
// envelopes, every label and time query over that run must return exactly
// the envelopes whose lines say so, and a backend with indexes of its own
// (IndexChecker) compares them with the rows too. The first failure is
// store.corrupt naming the row; the stats say how far it got. Memory stays
// bounded: a run of envelopes and the set of blob hashes seen.
func (sn *Snapshot) Check(ctx context.Context, opts CheckOptions) (CheckStats, error) {
	var st CheckStats
	if _, err := loadState(ctx, sn.v, 1, sn.s.lim); err != nil {
		return st, err
	}
	var ic IndexCheck
	if b, ok := sn.s.b.(IndexChecker); ok {
		ic = sharedIndexCheck{b.IndexCheck(sn.v.View), sn.v}
	}
	segs, err := sn.Segments(ctx)
	if err != nil {
		return st, err
	}
	blobs := map[scalar.Digest]bool{}
	run := make([]EnvelopeRow, 0, checkChunk)
	for _, g := range segs {
		if err := ctx.Err(); err != nil {
			return st, errcode.Wrap(errcode.IOFailed, err, "interrupted")
		}
		st.Segments++
		if g.Sealed() {
			st.Sealed++
		}
		err := sn.Records(ctx, g, func(rec evidence.Record, _ []byte) error {
			e, ok := rec.(*evidence.Envelope)
			if !ok {
				return nil
			}
			pos := g.FirstPosition + e.Sequence - 1
			for i, ref := range e.Attachments {
				if blobs[ref.Hash] {
					continue
				}
				a, err := sn.Attachment(ctx, ref.Hash)
				if err != nil {
					return corrupt(envelopeRowName(pos), g.ID(), e.Sequence, "attachments[%d]: %v", i, errMsg(err))
				}
				if a.Size() != ref.Size {
					return corrupt(blobRowName(ref.Hash), g.ID(), e.Sequence, "holds %d bytes; envelopes row %d references %d", a.Size(), pos, ref.Size)
				}
				blobs[ref.Hash] = true
				st.Attachments++
			}
			r := indexRow(g, e, pos)
			if ic != nil {
				if err := ic.Row(ctx, &r); err != nil {
					return err
				}
			}
			run = append(run, r)
			if len(run) == checkChunk {
				if err := sn.checkIndexes(ctx, g, run); err != nil {
					return err
				}
				st.Envelopes += uint64(len(run))
				if opts.Progress != nil {
					opts.Progress(len(run))
				}
				run = run[:0]
			}
			return nil
		})
		if err == nil && len(run) > 0 {
			err = sn.checkIndexes(ctx, g, run)
			st.Envelopes += uint64(len(run))
			if opts.Progress != nil {
				opts.Progress(len(run))
			}
			run = run[:0]
		}
		if err != nil {
			return st, err
		}
	}
	if ic != nil {
		if err := ic.Finish(ctx); err != nil {
			return st, err
		}
	}
	return st, nil
}

// indexRow is the envelope row a verified envelope makes: what its index
// columns must hold.
func indexRow(g *Segment, e *evidence.Envelope, pos uint64) EnvelopeRow {
	return EnvelopeRow{Position: pos, Segment: g.Order, EnvelopeID: e.EnvelopeID,
		ContentHash: e.ContentHash, ChainHash: e.ChainHash,
		EventType: e.EventType.String(), ActorID: e.ActorID.String(), EnvironmentID: e.EnvironmentID.String(),
		AdapterID: e.AdapterID.String(), TraceID: e.TraceID.String(), SessionID: e.SessionID.String(), ClaimedAt: e.ClaimedAt}
}

// indexKinds are the label columns, each with how a query asks for it.
var indexKinds = []struct {
	col   string
	value func(*EnvelopeRow) string
	query func(q *Query, v string)
}{
	{"event_type", func(r *EnvelopeRow) string { return r.EventType }, func(q *Query, v string) { q.EventTypes = []string{v} }},
	{"actor_id", func(r *EnvelopeRow) string { return r.ActorID }, func(q *Query, v string) { q.ActorIDs = []string{v} }},
	{"environment_id", func(r *EnvelopeRow) string { return r.EnvironmentID }, func(q *Query, v string) { q.EnvironmentIDs = []string{v} }},
	{"adapter_id", func(r *EnvelopeRow) string { return r.AdapterID }, func(q *Query, v string) { q.AdapterIDs = []string{v} }},
	{"trace_id", func(r *EnvelopeRow) string { return r.TraceID }, func(q *Query, v string) { q.TraceIDs = []string{v} }},
	{"session_id", func(r *EnvelopeRow) string { return r.SessionID }, func(q *Query, v string) { q.SessionIDs = []string{v} }},
}

// checkIndexes asks the backend's indexes about a run of verified rows of
// segment g (consecutive positions): every label value of the run, and the
// run's time range, must select exactly the rows that carry them.
func (sn *Snapshot) checkIndexes(ctx context.Context, g *Segment, run []EnvelopeRow) error {
	from, to := run[0].Position, run[len(run)-1].Position
	byPos := func(p uint64) *EnvelopeRow {
		if p < from || p > to {
			return nil
		}
		return &run[p-from]
	}
	// seq is the sequence of position p in g (0 before g's first).
	seq := func(p uint64) uint64 {
		if p < g.FirstPosition {
			return 0
		}
		return p - g.FirstPosition + 1
	}
	// compare checks that q over the run returns the positions want.
	compare := func(what string, q Query, want []uint64, holds func(*EnvelopeRow) string) error {
		q.From, q.To, q.KeysOnly = from, to, true
		i := 0
		err := sn.v.Envelopes(ctx, q, func(r *EnvelopeRow) error {
			switch {
			case i < len(want) && r.Position == want[i]:
				i++
				return nil
			case i < len(want) && r.Position > want[i]:
				return corrupt(envelopeRowName(want[i]), g.ID(), seq(want[i]), "the %s index omits it", what)
			}
			row := byPos(r.Position)
			if row == nil {
				return corrupt(envelopeRowName(r.Position), g.ID(), seq(r.Position), "the %s index returns it for envelopes rows %d-%d", what, from, to)
			}
			return corrupt(envelopeRowName(r.Position), g.ID(), seq(row.Position), "the %s index lists it, but its line holds %s", what, holds(row))
		})
		if err != nil {
			return err
		}
		if i < len(want) {
			return corrupt(envelopeRowName(want[i]), g.ID(), seq(want[i]), "the %s index omits it", what)
		}
		return nil
	}
	all := make([]uint64, len(run))
	for i := range run {
		all[i] = run[i].Position
	}
	if err := compare("position", Query{}, all, func(*EnvelopeRow) string { return "" }); err != nil {
		return err
	}
	for _, k := range indexKinds {
		groups := map[string][]uint64{}
		var values []string
		for i := range run {
			v := k.value(&run[i])
			if v == "" {
				continue // a null trace or session
			}
			if _, ok := groups[v]; !ok {
				values = append(values, v)
			}
			groups[v] = append(groups[v], run[i].Position)
		}
		for _, v := range values {
			var q Query
			k.query(&q, v)
			what := k.col + " " + strconv.Quote(v)
			if err := compare(what, q, groups[v], func(r *EnvelopeRow) string { return k.col + " " + strconv.Quote(k.value(r)) }); err != nil {
				return err
			}
		}
	}
	// The time index: each distinct claimed time of the run as a window of
	// its own, so that an index entry that narrows a range by as little as
	// a nanosecond is found.
	times := make([]scalar.Timestamp, len(run))
	for i := range run {
		times[i] = run[i].ClaimedAt
	}
	slices.SortFunc(times, scalar.Timestamp.Compare)
	times = slices.Compact(times)
	for _, w := range timeWindows(times) {
		var want []uint64
		for i := range run {
			if run[i].ClaimedAt.Compare(w.since) >= 0 && run[i].ClaimedAt.Compare(w.until) < 0 {
				want = append(want, run[i].Position)
			}
		}
		what := fmt.Sprintf("claimed_at %s to %s", w.since, w.until)
		if err := compare(what, Query{Since: &w.since, Until: &w.until}, want, func(r *EnvelopeRow) string { return "claimed_at " + r.ClaimedAt.String() }); err != nil {
			return err
		}
	}
	return nil
}

type window struct{ since, until scalar.Timestamp }

// maxTimeWindows bounds the time queries per run: claimed times that
// differ for every envelope are checked in windows of several.
const maxTimeWindows = 64

// timeWindows splits sorted distinct times into at most maxTimeWindows
// half-open windows that cover them all, each starting at one of them.
func timeWindows(times []scalar.Timestamp) []window {
	step := (len(times) + maxTimeWindows - 1) / maxTimeWindows
	var out []window
	for i := 0; i < len(times); i += step {
		until := times[len(times)-1].Add(time.Nanosecond)
		if i+step < len(times) {
			until = times[i+step]
		}
		out = append(out, window{times[i], until})
	}
	return out
}
