package store

import (
	"context"
	"errors"
	"io"
	"sync"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/stream"
)

// Snapshot is a consistent, read-only view of a store. It verifies every
// row it returns: a row that does not decode, does not match its columns
// or does not hash is store.corrupt naming the row. A Snapshot never blocks
// the writer and is not safe for concurrent use; Close it when done.
type Snapshot struct {
	s    *Store
	v    *sharedView // shared with the fetcher of a walk (checkedEnvelopes)
	c    *checker
	segs map[int64]*Segment // verified segments by Order
}

// Snapshot starts a snapshot of the committed store.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	v, err := s.b.View(ctx)
	if err != nil {
		return nil, err
	}
	return &Snapshot{s: s, v: &sharedView{View: v, mu: new(sync.Mutex)}, c: newChecker(s.lim), segs: map[int64]*Segment{}}, nil
}

// Close ends the snapshot.
func (sn *Snapshot) Close() error { return sn.v.Close() }

// InSnapshot runs fn on a snapshot of s, closed when fn returns.
func (s *Store) InSnapshot(ctx context.Context, fn func(*Snapshot) error) error {
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return err
	}
	defer sn.Close()
	return fn(sn)
}

// Segment is a stored segment, its genesis and seal verified against its
// row.
type Segment struct {
	Order         int64 // 1-based store order
	Genesis       *evidence.Genesis
	Count         uint64        // envelopes in the segment
	Head          scalar.Digest // chain hash of the last envelope; the genesis hash when empty
	Seal          *evidence.Seal
	FirstPosition uint64 // store position of sequence 1
	// Signer is the key that signs the segment (SPEC §11.1), when
	// Snapshot.Signers has set it; nil before any key.
	Signer *signing.KeyEpoch
}

// ID is the segment id.
func (g *Segment) ID() scalar.UUID { return g.Genesis.SegmentID }

// Sealed reports whether the segment is sealed.
func (g *Segment) Sealed() bool { return g.Seal != nil }

func (g *Segment) info() segmentInfo {
	return segmentInfo{order: g.Order, id: g.Genesis.SegmentID, first: g.FirstPosition, last: g.last()}
}

// last is the position of the segment's last envelope (FirstPosition-1
// when it is empty).
func (g *Segment) last() uint64 { return g.FirstPosition + g.Count - 1 }

func (sn *Snapshot) segment(row *SegmentRow) (*Segment, error) {
	if g, ok := sn.segs[row.Order]; ok {
		return g, nil
	}
	gen, err := sn.c.genesis(row)
	if err != nil {
		return nil, err
	}
	g := &Segment{Order: row.Order, Genesis: gen, Count: row.Count, Head: row.Head, FirstPosition: row.FirstPosition}
	if row.Seal != nil {
		if g.Seal, err = sn.c.seal(row); err != nil {
			return nil, err
		}
	}
	sn.segs[row.Order] = g
	return g, nil
}

// Segments returns every segment in store order.
func (sn *Snapshot) Segments(ctx context.Context) ([]*Segment, error) {
	var out []*Segment
	err := sn.v.Segments(ctx, 1, func(row *SegmentRow) error {
		g, err := sn.segment(row)
		if err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// Segment returns the segment with id, or segment.not_found.
func (sn *Snapshot) Segment(ctx context.Context, id scalar.UUID) (*Segment, error) {
	row, err := sn.v.SegmentByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, &errcode.Error{Code: errcode.SegmentNotFound, Segment: id.String(), Msg: "no segment with this id is stored"}
	}
	if err != nil {
		return nil, err
	}
	return sn.segment(row)
}

// LastSegment returns the last segment in store order (the open one, if
// any), or nil for an empty store.
func (sn *Snapshot) LastSegment(ctx context.Context) (*Segment, error) {
	row, err := sn.v.LastSegment(ctx)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return sn.segment(row)
}

// segmentAt returns the segment with the given Order.
func (sn *Snapshot) segmentAt(ctx context.Context, order int64) (*Segment, error) {
	if g, ok := sn.segs[order]; ok {
		return g, nil
	}
	var g *Segment
	err := sn.v.Segments(ctx, order, func(row *SegmentRow) error {
		if row.Order != order {
			return corrupt(segmentRowName(order), scalar.UUID{}, 0, "row is missing")
		}
		var err error
		g, err = sn.segment(row)
		if err != nil {
			return err
		}
		return ErrStop
	})
	if err == nil && g == nil {
		err = corrupt(segmentRowName(order), scalar.UUID{}, 0, "row is missing")
	}
	return g, err
}

// Records calls fn with the records of seg in stream order: its genesis,
// its envelopes and its seal if sealed, each with its canonical line (valid
// during the call). Attachment blobs are not included: see Attachment and
// WriteStream. The whole chain is verified on the way, from the genesis
// hash to the seal's count, head, Merkle root and (for an automatic
// reason) sealed_at; a mismatch is
// store.corrupt naming the row. Records stops at the first error fn
// returns and returns it.
func (sn *Snapshot) Records(ctx context.Context, seg *Segment, fn func(rec evidence.Record, line []byte) error) error {
	row, err := sn.v.SegmentByID(ctx, seg.ID())
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			err = corrupt(segmentRowName(seg.Order), seg.ID(), 0, "row is missing")
		}
		return err
	}
	if err := fn(seg.Genesis, row.Genesis); err != nil {
		return err
	}
	ch := evidence.NewChain(seg.Genesis)
	lastClaimed := seg.Genesis.CreatedAt
	if seg.Count > 0 {
		err = sn.checkedEnvelopes(ctx, seg.FirstPosition, seg.last(), seg.info(), func(r *checkedRow, pos uint64) error {
			e := r.env
			if err := ch.Next(e.SegmentID, e.Sequence, e.ContentHash, e.ChainHash); err != nil {
				return corrupt(envelopeRowName(pos), seg.ID(), e.Sequence, "%v", errMsg(err))
			}
			lastClaimed = e.ClaimedAt
			return fn(e, r.line)
		})
		if err != nil {
			return err
		}
	}
	name := segmentRowName(seg.Order)
	switch {
	case ch.Count != seg.Count:
		return corrupt(name, seg.ID(), ch.Count+1, "segment holds %d envelopes but envelopes row %d is missing", seg.Count, seg.FirstPosition+ch.Count)
	case ch.Head != seg.Head:
		return corrupt(name, seg.ID(), seg.Count, "stored head is not the chain hash of sequence %d", seg.Count)
	}
	if seg.Seal == nil {
		return nil
	}
	if err := ch.CheckSeal(seg.Seal); err != nil {
		return corrupt(name, seg.ID(), 0, "%v", errMsg(err))
	}
	if err := evidence.CheckSealedAt(seg.Seal, lastClaimed); err != nil {
		return corrupt(name, seg.ID(), 0, "seal sealed_at: %v", errMsg(err))
	}
	return fn(seg.Seal, row.Seal)
}

// Attachment returns a stored blob, verified against its hash, or
// input.attachment_missing.
func (sn *Snapshot) Attachment(ctx context.Context, hash scalar.Digest) (*evidence.Attachment, error) {
	data, err := sn.v.Blob(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, &errcode.Error{Code: errcode.InputAttachmentMiss, Msg: "attachment " + hash.String() + " is not in the store"}
	}
	if err != nil {
		return nil, err
	}
	a := &evidence.Attachment{Hash: hash, Data: data}
	if len(data) == 0 || !a.Verify() {
		return nil, corrupt(blobRowName(hash), scalar.UUID{}, 0, "data does not hash to the row's hash")
	}
	return a, nil
}

// Meta returns a store_meta value and whether it is set.
func (sn *Snapshot) Meta(ctx context.Context, key string) (string, bool, error) {
	if err := checkMetaKey(key); err != nil {
		return "", false, err
	}
	v, err := sn.v.Meta(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	return v, err == nil, err
}

// WriteStream writes the segments that hold at least one envelope
// matching f, whole and in store order, as a sealed stream (SPEC §6): each
// attachment blob once, immediately before the first envelope of the
// output that references it. With an empty filter the output is the
// stream that was appended, byte for byte (blobs a later append repeated
// appear once). It verifies every chain it writes.
func (sn *Snapshot) WriteStream(ctx context.Context, w io.Writer, f Filter) error {
	segs, err := sn.matchingSegments(ctx, f)
	if err != nil {
		return err
	}
	out := stream.NewWriter(w)
	emitted := map[scalar.Digest]bool{}
	for _, seg := range segs {
		err := sn.Records(ctx, seg, func(rec evidence.Record, line []byte) error {
			if e, ok := rec.(*evidence.Envelope); ok {
				for _, ref := range e.Attachments {
					if emitted[ref.Hash] {
						continue
					}
					a, err := sn.Attachment(ctx, ref.Hash)
					if err != nil {
						return err
					}
					if err := out.Write(a); err != nil {
						return err
					}
					emitted[ref.Hash] = true
				}
			}
			return out.WriteLine(line)
		})
		if err != nil {
			out.Flush()
			return err
		}
	}
	return out.Flush()
}

// matchingSegments returns, in store order, the segments holding at least
// one envelope that matches f. It decides by scan, from the verified rows:
// each segment is read up to its first match.
func (sn *Snapshot) matchingSegments(ctx context.Context, f Filter) ([]*Segment, error) {
	if f.IsZero() {
		return sn.Segments(ctx)
	}
	if !f.SegmentID.IsZero() && f.matchesAll() {
		g, err := sn.Segment(ctx, f.SegmentID)
		if err != nil {
			return nil, err
		}
		return []*Segment{g}, nil
	}
	q, empty, err := sn.query(ctx, f)
	if err != nil || empty {
		return nil, err
	}
	var out []*Segment
	err = sn.scan(ctx, q.From, q.To, func(g *Segment, e *evidence.Envelope, _ []byte) error {
		if !f.matches(g, e) {
			return nil
		}
		out = append(out, g)
		return errNextSegment
	})
	return out, err
}
