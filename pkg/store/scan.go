package store

import (
	"context"
	"errors"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
)

// Indexes are untrusted (SPEC §8): a label or time index edited behind the
// store's back could leave out rows, and no row it leaves out is ever read
// to tell. What must be complete — a bundle's selection, a stream's
// segments, a scanned query — is decided by scan, which reads and verifies
// every envelope of a position range and asks no index at all. A position
// range is itself verified: it comes from the segments rows, whose geneses
// and seals are checked, and every position in it must hold its row.

// errNextSegment, returned by a scan's fn, skips the rest of the segment.
var errNextSegment = errors.New("store: next segment")

// scan calls fn with every envelope at positions from..to (to 0: to the
// end of the store) in store order, each verified and with its line (valid
// during the call), until fn returns an error: ErrStop ends the scan
// without one, errNextSegment skips to the next segment. A position of the
// range without its row is store.corrupt.
func (sn *Snapshot) scan(ctx context.Context, from, to uint64, fn func(g *Segment, e *evidence.Envelope, line []byte) error) error {
	segs, err := sn.Segments(ctx)
	if err != nil {
		return err
	}
	for _, g := range segs {
		lo, hi := max(from, g.FirstPosition), g.last()
		if to != 0 {
			hi = min(hi, to)
		}
		if g.Count == 0 || lo > hi {
			continue
		}
		next := lo
		err := sn.checkedEnvelopes(ctx, lo, hi, g.info(), func(r *checkedRow, pos uint64) error {
			if pos != next {
				return corrupt(envelopeRowName(next), g.ID(), next-g.FirstPosition+1, "row is missing")
			}
			next++
			return fn(g, r.env, r.line)
		})
		switch {
		case errors.Is(err, errNextSegment):
			continue
		case errors.Is(err, ErrStop):
			return nil
		case err != nil:
			return err
		case next <= hi:
			return corrupt(envelopeRowName(next), g.ID(), next-g.FirstPosition+1, "row is missing")
		}
		if err := ctx.Err(); err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "interrupted")
		}
	}
	return nil
}
