package store

import (
	"bytes"

	"arxi.dev/arxi/pkg/canonical"
	"context"
	"errors"
	"fmt"

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
	key       Lineage        // the current signing key (keys.go)
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
	rotated     bool // the last envelope is a lifecycle envelope: a key_rotation seal follows
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
	lim     evidence.Limits
	dec     *evidence.Decoder
	payload canonical.Canonicalizer
	hasher  evidence.Hasher
	line    []byte
}

func newChecker(lim evidence.Limits) *checker {
	return &checker{lim: lim.WithDefaults(), dec: evidence.NewDecoder(lim)}
}

// decode strictly decodes a stored line: it must be the canonical line of
// one record of the wanted kind.
func (c *checker) decode(line []byte, kind evidence.Kind) (evidence.Record, error) {
	rec, err := c.dec.Sealed(line)
	switch {
	case err == nil && rec.Kind() != kind:
		return nil, fmt.Errorf("line holds a %s record, want %s", rec.Kind(), kind)
	case err == nil:
		return rec, nil
	case !c.dec.WasCanonical() && errors.Is(err, errcode.InputNotCanonical):
		return nil, errors.New("line is not in canonical form")
	case !c.dec.WasCanonical():
		return nil, fmt.Errorf("line is not valid JSON: %w", err)
	case errors.Is(err, errcode.InputNotCanonical):
		return nil, errors.New("line is not the normal form of its record")
	}
	return nil, fmt.Errorf("line does not decode: %w", err)
}

// segmentInfo is what checking an envelope row needs of its segment.
type segmentInfo struct {
	order int64
	id    scalar.UUID
	first uint64
	last  uint64 // the position of its last envelope (first-1 when empty)
}

// envelope reads an envelope row back, checks that it lies in its segment,
// that its values are valid and that its content hash recomputes, and
// returns the envelope with its line (valid until the next call). It does
// not check the chain hash, which needs the previous row.
func (c *checker) envelope(row *EnvelopeRow, seg segmentInfo) (*evidence.Envelope, []byte, error) {
	e := new(evidence.Envelope)
	line, err := c.appendEnvelope(c.line[:0], e, row, seg, false)
	c.line = line[:0]
	if err != nil {
		return nil, nil, err
	}
	return e, line, nil
}

// appendEnvelope is envelope reading the row into e and appending its line
// to dst. With shared, the row's memory outlives e and is never written
// again, so e's payload shares it.
func (c *checker) appendEnvelope(dst []byte, e *evidence.Envelope, row *EnvelopeRow, seg segmentInfo, shared bool) ([]byte, error) {
	seq := row.Position - seg.first + 1
	bad := func(format string, args ...any) error {
		return corrupt(envelopeRowName(row.Position), seg.id, seq, format, args...)
	}
	if row.Segment != seg.order || row.Position < seg.first || row.Position > seg.last {
		return dst, bad("position %d and segment %d do not agree with segments row %d", row.Position, row.Segment, seg.order)
	}
	if err := c.rowEnvelope(e, row, seg.id, seq, shared, bad); err != nil {
		return dst, err
	}
	if c.hasher.Content(&e.Content) != e.ContentHash {
		return dst, bad("content_hash does not recompute")
	}
	return e.AppendJCS(dst), nil
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
// the segment's last envelope row (its head, and the sealed_at of an
// automatic seal), no envelope rows beyond the last
// segment, and the open segment's last depth envelopes walked up to the
// stored head.
func loadState(ctx context.Context, v View, depth int, lim evidence.Limits) (*state, error) {
	st := &state{}
	c := newChecker(lim)
	var prev *SegmentRow
	var openRow *SegmentRow
	var openGenesis *evidence.Genesis
	var spans []segSpan
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
			s, err := c.seal(row)
			if err != nil {
				return err
			}
			e, err := lastEnvelope(ctx, v, c, row, g)
			if err != nil {
				return err
			}
			last := g.CreatedAt
			if e != nil {
				last = e.ClaimedAt
			}
			if err := evidence.CheckSealedAt(s, last); err != nil {
				return corrupt(name, row.ID, 0, "seal sealed_at: %v", errMsg(err))
			}
			st.last = &evidence.Link{SegmentID: row.ID, ChainHead: row.Head}
		} else {
			openRow, openGenesis = cloneSegmentRow(row), g
		}
		st.segments++
		st.envelopes += row.Count
		spans = append(spans, segSpan{info: info(row), recorder: g.RecorderID})
		prev = cloneSegmentRow(row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = v.Envelopes(ctx, Query{From: st.envelopes + 1, Limit: 1, KeysOnly: true}, func(r *EnvelopeRow) error {
		return corrupt(envelopeRowName(r.Position), scalar.UUID{}, 0, "row lies beyond the last segment's envelopes")
	})
	if err != nil {
		return nil, err
	}
	if openRow != nil {
		if st.open, err = verifyOpen(ctx, v, c, openRow, openGenesis, depth); err != nil {
			return nil, err
		}
	}
	if st.key, err = loadLineage(ctx, v, c, spans); err != nil {
		return nil, err
	}
	if o := st.open; o != nil && o.chain.Count > 0 && st.key.Position == o.first+o.chain.Count-1 {
		o.rotated = true
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
	return segmentInfo{order: row.Order, id: row.ID, first: row.FirstPosition, last: row.FirstPosition + row.Count - 1}
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
		e, _, err = c.envelope(r, info(row))
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
			if r.Segment != row.Order || r.Position != pos {
				return corrupt(envelopeRowName(r.Position), row.ID, start-1, "row does not hold sequence %d of segments row %d", start-1, row.Order)
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
		e, _, err := c.envelope(r, info(row))
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
		if r.Segment != o.order || r.Position != o.first+next-1 {
			return corrupt(envelopeRowName(r.Position), o.genesis.SegmentID, next, "row does not hold sequence %d of segments row %d", next, o.order)
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
