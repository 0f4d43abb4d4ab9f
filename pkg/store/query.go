package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// Filter selects envelopes for arxi-query (SPEC §8). Zero fields match
// everything; set fields combine with AND; EventTypes matches any of its
// values.
type Filter struct {
	SegmentID     scalar.UUID
	EventTypes    []scalar.Token
	ActorID       scalar.Label
	EnvironmentID scalar.Label
	AdapterID     scalar.Token
	TraceID       scalar.Label
	SessionID     scalar.Label
	// Since and Until bound claimed_at, half-open: Since ≤ claimed_at <
	// Until. Nil is unbounded.
	Since, Until *scalar.Timestamp
	// AfterSequence skips the segment's envelopes up to and including
	// this sequence; it needs SegmentID.
	AfterSequence uint64
}

// IsZero reports whether f matches every envelope.
func (f *Filter) IsZero() bool { return f.SegmentID.IsZero() && f.matchesAll() }

// matchesAll reports whether f has no condition besides its segment.
func (f *Filter) matchesAll() bool {
	return len(f.EventTypes) == 0 && f.ActorID.IsZero() && f.EnvironmentID.IsZero() && f.AdapterID.IsZero() &&
		f.TraceID.IsZero() && f.SessionID.IsZero() && f.Since == nil && f.Until == nil && f.AfterSequence == 0
}

// Check validates the combination of fields.
func (f *Filter) Check() error {
	if f.AfterSequence > 0 && f.SegmentID.IsZero() {
		return errcode.New(errcode.UsageInvalid, "--after-sequence needs --segment: sequences count within a segment")
	}
	return scalar.CheckRange(f.Since, f.Until)
}

// fingerprint identifies the filter in a cursor, so a cursor is not reused
// with another filter. It hashes a canonical rendering of every field.
func (f *Filter) fingerprint() [8]byte {
	var b []byte
	add := func(name, v string) {
		b = append(b, name...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, v)
		b = append(b, '\n')
	}
	if !f.SegmentID.IsZero() {
		add("segment", f.SegmentID.String())
	}
	types := make([]string, len(f.EventTypes))
	for i, t := range f.EventTypes {
		types[i] = t.String()
	}
	slices.Sort(types)
	types = slices.Compact(types)
	for _, t := range types {
		add("event_type", t)
	}
	add("actor", f.ActorID.String())
	add("environment", f.EnvironmentID.String())
	add("adapter", f.AdapterID.String())
	add("trace", f.TraceID.String())
	add("session", f.SessionID.String())
	if f.Since != nil {
		add("since", f.Since.String())
	}
	if f.Until != nil {
		add("until", f.Until.String())
	}
	add("after_sequence", strconv.FormatUint(f.AfterSequence, 10))
	h := sha256.Sum256(b)
	return [8]byte(h[:8])
}

// query turns f into a backend query; empty reports that no envelope can
// match (the segment holds none after AfterSequence).
func (sn *Snapshot) query(ctx context.Context, f Filter) (q Query, empty bool, err error) {
	if err := f.Check(); err != nil {
		return q, false, err
	}
	q.From = 1
	if !f.SegmentID.IsZero() {
		g, err := sn.Segment(ctx, f.SegmentID)
		if err != nil {
			return q, false, err
		}
		if f.AfterSequence >= g.Count {
			return q, true, nil // no envelope of the segment can match
		}
		q.From, q.To = g.FirstPosition+f.AfterSequence, g.last()
	}
	for _, t := range f.EventTypes {
		q.EventTypes = append(q.EventTypes, t.String())
	}
	slices.Sort(q.EventTypes)
	q.EventTypes = slices.Compact(q.EventTypes)
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	q.ActorIDs = one(f.ActorID.String())
	q.EnvironmentIDs = one(f.EnvironmentID.String())
	q.AdapterIDs = one(f.AdapterID.String())
	q.TraceIDs = one(f.TraceID.String())
	q.SessionIDs = one(f.SessionID.String())
	q.Since, q.Until = f.Since, f.Until
	return q, false, nil
}

// Page limits.
const (
	DefaultPageSize = 1000
	MaxPageSize     = 10000
)

// Page is one page of query results.
type Page struct {
	Items []Item
	// Next is the cursor for the next page, or "" when this page ends the
	// matches that existed when it was read.
	Next string
}

// Item is one matching envelope.
type Item struct {
	Position uint64
	Envelope *evidence.Envelope
	Line     []byte // the envelope's canonical line
}

// Query returns up to limit envelopes matching f in store order (segment
// order, then sequence), starting after cursor ("" for the first page).
// limit 0 means DefaultPageSize; more than MaxPageSize is usage.invalid.
// A cursor names a store position, so paging while appends happen never
// repeats or skips a match; a cursor made for another filter is
// usage.invalid.
//
// Query asks the backend's label and time indexes for the rows, and
// verifies every row it returns: a row that does not hash, or whose
// verified line does not match f, is store.corrupt, so a tampered index
// can never put a row into a result. An index can still leave a row out
// (SPEC §8: indexes are never the authority), which only Scan and
// Check (arxi-append doctor) would tell.
func (sn *Snapshot) Query(ctx context.Context, f Filter, cursor string, limit int) (*Page, error) {
	return sn.page(ctx, f, cursor, limit, false)
}

// Scan is Query decided from the verified rows alone: it reads and
// verifies every envelope from the cursor on (within f's segment, if it
// names one), asks no index, and so returns exactly the matches the
// envelope lines hold, or fails with store.corrupt. It costs a read of
// every envelope it passes, where Query reads only the matches. Its
// cursors are Query's: the two page through the same matches.
func (sn *Snapshot) Scan(ctx context.Context, f Filter, cursor string, limit int) (*Page, error) {
	return sn.page(ctx, f, cursor, limit, true)
}

func (sn *Snapshot) page(ctx context.Context, f Filter, cursor string, limit int, scan bool) (*Page, error) {
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return nil, errcode.New(errcode.UsageInvalid, "limit %d: want 1 to %d", limit, MaxPageSize)
	}
	fp := f.fingerprint()
	var after uint64
	if cursor != "" {
		c, err := ParseCursor(cursor)
		if err != nil {
			return nil, err
		}
		if c.Filter != fp {
			return nil, &errcode.Error{Code: errcode.UsageInvalid, Field: "cursor", Msg: "the cursor belongs to a query with other filters",
				Hint: "pass the same filters as the query that returned the cursor"}
		}
		after = c.Position
	}
	q, empty, err := sn.query(ctx, f)
	page := &Page{}
	if err != nil || empty {
		return page, err
	}
	if after >= q.From {
		q.From = after + 1
	}
	if q.To != 0 && q.From > q.To {
		return page, nil
	}
	more := false
	add := func(g *Segment, e *evidence.Envelope, line []byte) error {
		if len(page.Items) == limit {
			more = true
			return ErrStop
		}
		page.Items = append(page.Items, Item{Position: g.FirstPosition + e.Sequence - 1, Envelope: e, Line: bytes.Clone(line)})
		return nil
	}
	if scan {
		err = sn.scan(ctx, q.From, q.To, func(g *Segment, e *evidence.Envelope, line []byte) error {
			if !f.matches(g, e) {
				return nil
			}
			return add(g, e, line)
		})
	} else {
		q.Limit = limit + 1
		err = sn.v.Envelopes(ctx, q, func(r *EnvelopeRow) error {
			g, err := sn.segmentAt(ctx, r.Segment)
			if err != nil {
				return err
			}
			e, line, err := sn.c.envelope(r, g.info())
			if err != nil {
				return err
			}
			if !f.matches(g, e) {
				return corrupt(envelopeRowName(r.Position), g.ID(), e.Sequence, "row does not match the query that returned it")
			}
			return add(g, e, line)
		})
	}
	if err != nil {
		return nil, err
	}
	if more {
		page.Next = Cursor{Position: page.Items[len(page.Items)-1].Position, Filter: fp}.String()
	}
	return page, nil
}

// matches checks a verified envelope against f, so that a tampered index
// column cannot smuggle a row into a result.
func (f *Filter) matches(g *Segment, e *evidence.Envelope) bool {
	if !f.SegmentID.IsZero() && (g.ID() != f.SegmentID || e.Sequence <= f.AfterSequence) {
		return false
	}
	if len(f.EventTypes) > 0 && !slices.Contains(f.EventTypes, e.EventType) {
		return false
	}
	eq := func(want, got scalar.Label) bool { return want.IsZero() || want == got }
	return eq(f.ActorID, e.ActorID) && eq(f.EnvironmentID, e.EnvironmentID) &&
		(f.AdapterID.IsZero() || f.AdapterID == e.AdapterID) &&
		eq(f.TraceID, e.TraceID) && eq(f.SessionID, e.SessionID) &&
		(f.Since == nil || e.ClaimedAt.Compare(*f.Since) >= 0) &&
		(f.Until == nil || e.ClaimedAt.Compare(*f.Until) < 0)
}
