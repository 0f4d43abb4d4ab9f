package store

import (
	"context"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sealing"
)

// Source is a sealing.Source that starts a Sealer from a store's chain
// state (arxi-seal --store, SPEC §7). It only reads, through a snapshot, so
// it works while another process holds the store's writer lock:
//
//	arxi-seal --store arxi.db < events.ndjson | arxi-append --store arxi.db
//
// With an open segment, the Sealer continues it from its head: the chain's
// count, head and Merkle accumulator (rebuilt from the stored content
// hashes) and the claimed_at of its last envelope. Announce is set, so the
// sealed output starts with the open segment's genesis again, which
// arxi-append takes as "continue this segment". Without an open segment
// Start fails with segment.none_open, unless Open is set: then the first
// segment the Sealer opens links to the last sealed head (or to nothing in
// an empty store).
type Source struct {
	Store *Store
	Open  bool
}

var _ sealing.Source = (*Source)(nil)

// Start implements sealing.Source. It verifies the open segment's last
// envelopes as Open does, at the store's verify depth.
func (src *Source) Start(ctx context.Context) (sealing.Start, error) {
	s := src.Store
	v, err := s.b.View(ctx)
	if err != nil {
		return sealing.Start{}, err
	}
	defer v.Close()
	depth := s.depth
	if depth == NoVerify {
		depth = DefaultVerifyDepth
	}
	st, err := loadState(ctx, v, depth, s.lim)
	if err != nil {
		return sealing.Start{}, err
	}
	o := st.open
	if o == nil {
		if !src.Open {
			return sealing.Start{}, &errcode.Error{Code: errcode.SegmentNoneOpen, Msg: "the store has no open segment to continue",
				Hint: "pass --open to open a new segment linked to the last sealed one"}
		}
		return sealing.Start{Predecessor: st.last}, nil
	}
	if err := rebuildMerkle(ctx, v, o); err != nil {
		return sealing.Start{}, err
	}
	return sealing.Start{Open: &sealing.Open{Genesis: o.genesis, Chain: o.chain, LastClaimedAt: o.lastClaimed, Announce: true}}, nil
}
