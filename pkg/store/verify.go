package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// state is a store's chain state: what an Appender continues from.
type state struct {
	open      *openSegment   // nil when no segment is open
	last      *evidence.Link // the last sealed segment's head; nil when none
	segments  int64          // segments stored; the next Order is segments+1
	envelopes uint64         // envelopes stored; the next position is envelopes+1
}

// openSegment is the state of the open segment.
type openSegment struct {
	order       int64
	genesis     *evidence.Genesis
	line        []byte // the genesis line
	first       uint64 // position of sequence 1
	chain       *evidence.Chain
	merkle      bool // chain.Merkle holds every content hash of the segment
	lastClaimed scalar.Timestamp
}

func (s *state) clone() *state {
	c := *s
	if s.open != nil {
		o := *s.open
		ch := *s.open.chain
		ch.Merkle = *s.open.chain.Merkle.Clone()
		o.chain = &ch
		c.open = &o
	}
	if s.last != nil {
		l := *s.last
		c.last = &l
	}
	return &c
}

// corrupt reports a row that fails read-back verification.
func corrupt(row string, seg scalar.UUID, seq uint64, format string, args ...any) error {
	e := &errcode.Error{Code: errcode.StoreCorrupt, Sequence: seq, Msg: row + ": " + fmt.Sprintf(format, args...)}
	if !seg.IsZero() {
		e.Segment = seg.String()
	}
	return e
}

func segmentRowName(order int64) string  { return fmt.Sprintf("segments row %d", order) }
func envelopeRowName(pos uint64) string  { return fmt.Sprintf("envelopes row %d", pos) }
func blobRowName(h scalar.Digest) string { return "attachments row " + h.String() }

// checker decodes and checks rows read back, reusing scratch memory. It is
// not safe for concurrent use.
type checker struct {
	lim    evidence.Limits
	canon  canonical.Canonicalizer
	hasher evidence.Hasher
	buf    []byte
}

func newChecker(lim evidence.Limits) *checker {
	c := &checker{lim: lim}
	c.canon.MaxDepth = canonical.DefaultMaxDepth + 1
	return c
}

// decode strictly decodes a stored line: it must be the canonical line of
// one record of the wanted kind.
func (c *checker) decode(line []byte, kind evidence.Kind) (evidence.Record, error) {
	var err error
	c.buf, err = c.canon.Append(c.buf[:0], line)
	if err != nil {
		return nil, fmt.Errorf("line is not valid JSON: %w", err)
	}
	if !bytes.Equal(c.buf, line) {
		return nil, errors.New("line is not in canonical form")
	}
	rec, err := evidence.Decode(string(line), c.lim)
	if err != nil {
		return nil, fmt.Errorf("line does not decode: %w", err)
	}
	if rec.Kind() != kind {
		return nil, fmt.Errorf("line holds a %s record, want %s", rec.Kind(), kind)
	}
	c.buf = rec.AppendJCS(c.buf[:0])
	if !bytes.Equal(c.buf, line) {
		return nil, errors.New("line is not the normal form of its record")
	}
	return rec, nil
}

// segmentInfo is what checking an envelope row needs of its segment.
type segmentInfo struct {
	order int64
	id    scalar.UUID
	first uint64
}

// envelope decodes an envelope row and checks it against its columns and
// its segment, and that its content hash recomputes. It does not check the
// chain hash, which needs the previous row.
func (c *checker) envelope(row *EnvelopeRow, seg segmentInfo) (*evidence.Envelope, error) {
	name := envelopeRowName(row.Position)
	bad := func(format string, args ...any) error {
		return corrupt(name, seg.id, row.Sequence, format, args...)
	}
	if row.Segment != seg.order || row.Sequence == 0 || row.Position != seg.first+row.Sequence-1 {
		return nil, bad("position %d, segment %d and sequence %d do not agree with segments row %d", row.Position, row.Segment, row.Sequence, seg.order)
	}
	rec, err := c.decode(row.Line, evidence.KindEnvelope)
	if err != nil {
		return nil, bad("%v", err)
	}
	e := rec.(*evidence.Envelope)
	switch {
	case e.SegmentID != seg.id:
		return nil, bad("line names segment %s", e.SegmentID)
	case e.Sequence != row.Sequence:
		return nil, bad("line holds sequence %d", e.Sequence)
	case e.EnvelopeID != row.EnvelopeID:
		return nil, bad("envelope_id column does not match the line")
	case e.ContentHash != row.ContentHash:
		return nil, bad("content_hash column does not match the line")
	case e.ChainHash != row.ChainHash:
		return nil, bad("chain_hash column does not match the line")
	case !indexMatches(row, &e.Content):
		return nil, bad("index columns do not match the line")
	case c.hasher.Content(&e.Content) != e.ContentHash:
		return nil, bad("content_hash does not recompute")
	}
	return e, nil
}

func indexMatches(row *EnvelopeRow, c *evidence.Content) bool {
	return row.EventType == c.EventType.String() && row.ActorID == c.ActorID.String() &&
		row.EnvironmentID == c.EnvironmentID.String() && row.AdapterID == c.AdapterID.String() &&
		row.TraceID == c.TraceID.String() && row.SessionID == c.SessionID.String() &&
		row.ClaimedAt == c.ClaimedAt
}

// genesis decodes a segment row's genesis and checks it against the row.
func (c *checker) genesis(row *SegmentRow) (*evidence.Genesis, error) {
	name := segmentRowName(row.Order)
	rec, err := c.decode(row.Genesis, evidence.KindGenesis)
	if err != nil {
		return nil, corrupt(name, row.ID, 0, "genesis %v", err)
	}
	g := rec.(*evidence.Genesis)
	switch {
	case g.SegmentID != row.ID:
		return nil, corrupt(name, row.ID, 0, "genesis names segment %s", g.SegmentID)
	case g.GenesisHash != row.GenesisHash:
		return nil, corrupt(name, row.ID, 0, "genesis_hash column does not match the genesis")
	case !g.Verify():
		return nil, corrupt(name, row.ID, 0, "genesis_hash does not recompute")
	}
	return g, nil
}

// seal decodes a sealed segment row's seal and checks it against the row.
func (c *checker) seal(row *SegmentRow) (*evidence.Seal, error) {
	name := segmentRowName(row.Order)
	rec, err := c.decode(row.Seal, evidence.KindSeal)
	if err != nil {
		return nil, corrupt(name, row.ID, 0, "seal %v", err)
	}
	s := rec.(*evidence.Seal)
	switch {
	case s.SegmentID != row.ID:
		return nil, corrupt(name, row.ID, 0, "seal names segment %s", s.SegmentID)
	case s.EnvelopeCount != row.Count:
		return nil, corrupt(name, row.ID, 0, "seal envelope_count %d but the row holds %d", s.EnvelopeCount, row.Count)
	case s.HeadChainHash != row.Head:
		return nil, corrupt(name, row.ID, 0, "seal head_chain_hash does not match the stored head")
	}
	return s, nil
}

// loadState reads and verifies the chain state: every genesis and its
// link to the previous segment, every seal against its segment row and
// the segment's last envelope row, no envelope rows beyond the last
// segment, and the open segment's last depth envelopes walked up to the
// stored head.
func loadState(ctx context.Context, v View, depth int, lim evidence.Limits) (*state, error) {
	st := &state{}
	c := newChecker(lim)
	var prev *SegmentRow
	var openRow *SegmentRow
	var openGenesis *evidence.Genesis
	err := v.Segments(ctx, 1, func(row *SegmentRow) error {
		name := segmentRowName(row.Order)
		if row.Order != st.segments+1 {
			return corrupt(name, row.ID, 0, "store order jumps from %d to %d", st.segments, row.Order)
		}
		if row.FirstPosition != st.envelopes+1 {
			return corrupt(name, row.ID, 0, "first position %d, want %d", row.FirstPosition, st.envelopes+1)
		}
		g, err := c.genesis(row)
		if err != nil {
			return err
		}
		if prev != nil {
			if prev.Seal == nil {
				return corrupt(name, row.ID, 0, "segment follows segment %s, which is not sealed", prev.ID)
			}
			if g.Predecessor == nil || *g.Predecessor != (evidence.Link{SegmentID: prev.ID, ChainHead: prev.Head}) {
				return corrupt(name, row.ID, 0, "genesis does not link to the sealed head of segment %s", prev.ID)
			}
		}
		if row.Seal != nil {
			if _, err := c.seal(row); err != nil {
				return err
			}
			if _, err := lastEnvelope(ctx, v, c, row, g); err != nil {
				return err
			}
			st.last = &evidence.Link{SegmentID: row.ID, ChainHead: row.Head}
		} else {
			openRow, openGenesis = cloneSegmentRow(row), g
		}
		st.segments++
		st.envelopes += row.Count
		prev = cloneSegmentRow(row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = v.Envelopes(ctx, Query{From: st.envelopes + 1, Limit: 1, KeysOnly: true}, func(r *EnvelopeRow) error {
		return corrupt(envelopeRowName(r.Position), scalar.UUID{}, r.Sequence, "row lies beyond the last segment's envelopes")
	})
	if err != nil {
		return nil, err
	}
	if openRow != nil {
		if st.open, err = verifyOpen(ctx, v, c, openRow, openGenesis, depth); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func cloneSegmentRow(r *SegmentRow) *SegmentRow {
	c := *r
	c.Genesis = bytes.Clone(r.Genesis)
	c.Seal = bytes.Clone(r.Seal)
	return &c
}

func info(row *SegmentRow) segmentInfo {
	return segmentInfo{order: row.Order, id: row.ID, first: row.FirstPosition}
}

// lastEnvelope checks that a segment row's count and head are those of its
// last envelope row, and returns that envelope (nil for an empty segment).
func lastEnvelope(ctx context.Context, v View, c *checker, row *SegmentRow, g *evidence.Genesis) (*evidence.Envelope, error) {
	name := segmentRowName(row.Order)
	if row.Count == 0 {
		if row.Head != g.GenesisHash {
			return nil, corrupt(name, row.ID, 0, "empty segment's head is not its genesis hash")
		}
		return nil, nil
	}
	pos := row.FirstPosition + row.Count - 1
	var e *evidence.Envelope
	err := v.Envelopes(ctx, Query{From: pos, To: pos}, func(r *EnvelopeRow) error {
		var err error
		e, err = c.envelope(r, info(row))
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case e == nil:
		return nil, corrupt(name, row.ID, row.Count, "segment holds %d envelopes but envelopes row %d is missing", row.Count, pos)
	case e.ChainHash != row.Head:
		return nil, corrupt(name, row.ID, row.Count, "stored head is not the chain hash of sequence %d", row.Count)
	}
	return e, nil
}

// verifyOpen walks the open segment's last depth envelopes from the chain
// hash before them (the genesis hash when the walk covers the segment) to
// the stored head.
func verifyOpen(ctx context.Context, v View, c *checker, row *SegmentRow, g *evidence.Genesis, depth int) (*openSegment, error) {
	o := &openSegment{order: row.Order, genesis: g, line: row.Genesis, first: row.FirstPosition,
		chain: evidence.NewChain(g), lastClaimed: g.CreatedAt}
	name := segmentRowName(row.Order)
	if row.Count == 0 {
		if row.Head != g.GenesisHash {
			return nil, corrupt(name, row.ID, 0, "empty segment's head is not its genesis hash")
		}
		o.merkle = true
		return o, nil
	}
	if depth < 1 {
		depth = 1
	}
	start := uint64(1)
	if row.Count > uint64(depth) {
		start = row.Count - uint64(depth) + 1
	}
	ch := evidence.NewChain(g)
	if start > 1 {
		// The walk starts from the stored chain hash of the envelope before
		// it: the anchor the verified window hangs from.
		pos := row.FirstPosition + start - 2
		found := false
		err := v.Envelopes(ctx, Query{From: pos, To: pos, KeysOnly: true}, func(r *EnvelopeRow) error {
			if r.Segment != row.Order || r.Sequence != start-1 {
				return corrupt(envelopeRowName(r.Position), row.ID, r.Sequence, "row does not hold sequence %d of segments row %d", start-1, row.Order)
			}
			ch.Count, ch.Head, found = start-1, r.ChainHash, true
			return nil
		})
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, corrupt(envelopeRowName(pos), row.ID, start-1, "row is missing")
		}
	}
	var last *evidence.Envelope
	from, to := row.FirstPosition+start-1, row.FirstPosition+row.Count-1
	err := v.Envelopes(ctx, Query{From: from, To: to}, func(r *EnvelopeRow) error {
		e, err := c.envelope(r, info(row))
		if err != nil {
			return err
		}
		if err := ch.Next(e.SegmentID, e.Sequence, e.ContentHash, e.ChainHash); err != nil {
			return corrupt(envelopeRowName(r.Position), row.ID, e.Sequence, "%v", errMsg(err))
		}
		last = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case ch.Count != row.Count:
		return nil, corrupt(name, row.ID, ch.Count+1, "segment holds %d envelopes but envelopes row %d is missing", row.Count, row.FirstPosition+ch.Count)
	case ch.Head != row.Head:
		return nil, corrupt(name, row.ID, row.Count, "stored head is not the chain hash of sequence %d", row.Count)
	}
	o.chain = ch
	o.merkle = start == 1
	o.lastClaimed = last.ClaimedAt
	return o, nil
}

// errMsg returns an errcode error's message without its code, for
// wrapping a chain check into store.corrupt.
func errMsg(err error) string {
	if e, ok := errcode.As(err); ok {
		return e.Msg
	}
	return err.Error()
}

// rebuildMerkle recomputes the open segment's Merkle accumulator from the
// content hashes stored in v (which, in a Tx, include its own writes).
func rebuildMerkle(ctx context.Context, v View, o *openSegment) error {
	if o.merkle {
		return nil
	}
	var m evidence.Merkle
	next := uint64(1)
	err := v.Envelopes(ctx, Query{From: o.first, To: o.first + o.chain.Count - 1, KeysOnly: true}, func(r *EnvelopeRow) error {
		if r.Segment != o.order || r.Sequence != next {
			return corrupt(envelopeRowName(r.Position), o.genesis.SegmentID, r.Sequence, "row does not hold sequence %d of segments row %d", next, o.order)
		}
		m.Add(r.ContentHash)
		next++
		return nil
	})
	if err != nil {
		return err
	}
	if m.Size() != o.chain.Count {
		return corrupt(segmentRowName(o.order), o.genesis.SegmentID, next, "envelopes row %d is missing", o.first+next-1)
	}
	o.chain.Merkle = m
	o.merkle = true
	return nil
}
